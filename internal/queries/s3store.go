package queries

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/esm-dev/esm/internal/queryfile"
)

// S3Store keeps each query's last result as the object PREFIX/NAME.json
// of a bucket, in the directory store's format. A PUT replaces a whole
// object atomically: a reader sees the old result or the new one.
type S3Store struct {
	client   *s3.Client
	location S3Location
	// timeout bounds each request, retries included.
	timeout time.Duration
}

// S3Location is a parsed s3://bucket/prefix.
type S3Location struct {
	// Bucket is the bucket's name.
	Bucket string
	// Prefix is the key prefix without leading or trailing "/"; empty
	// keeps the results at the bucket's root.
	Prefix string
}

// String renders the location as s3://bucket/prefix.
func (l S3Location) String() string {
	if l.Prefix == "" {
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + l.Prefix
}

// key returns the object key of a query's result.
func (l S3Location) key(query string) string {
	if l.Prefix == "" {
		return query + ".json"
	}
	return l.Prefix + "/" + query + ".json"
}

// s3RequestTimeout bounds one S3 request with its retries, so that a
// store that does not answer cannot hold a query's schedule.
const s3RequestTimeout = 30 * time.Second

// maxS3Prefix bounds the key prefix: S3 keys are at most 1024 bytes,
// and the name and ".json" must fit after it.
const maxS3Prefix = 1024 - queryfile.MaxNameLen - len("/.json")

var (
	// bucketRE is S3's rule for bucket names (general purpose buckets):
	// 3 to 63 lowercase letters, digits, dots and hyphens, starting and
	// ending with a letter or digit.
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	// prefixSegmentRE is one segment of a key prefix, in the characters
	// S3 calls safe for keys.
	prefixSegmentRE = regexp.MustCompile(`^[A-Za-z0-9!_.*'()-]+$`)
)

// ParseS3Location parses s3://bucket or s3://bucket/prefix, checking the
// bucket name against S3's rules and the prefix for safe characters.
func ParseS3Location(location string) (S3Location, error) {
	rest, ok := strings.CutPrefix(location, "s3://")
	if !ok {
		return S3Location{}, fmt.Errorf("result store %s: want s3://bucket/prefix", location)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	prefix = strings.TrimSuffix(prefix, "/")
	if err := checkBucketName(bucket); err != nil {
		return S3Location{}, fmt.Errorf("result store %s: %w", location, err)
	}
	if prefix != "" {
		if len(prefix) > maxS3Prefix {
			return S3Location{}, fmt.Errorf("result store %s: the prefix is longer than %d bytes", location, maxS3Prefix)
		}
		for seg := range strings.SplitSeq(prefix, "/") {
			switch {
			case seg == "":
				return S3Location{}, fmt.Errorf("result store %s: the prefix has an empty segment (//)", location)
			case seg == "." || seg == "..":
				return S3Location{}, fmt.Errorf("result store %s: the prefix has a %q segment", location, seg)
			case !prefixSegmentRE.MatchString(seg):
				return S3Location{}, fmt.Errorf("result store %s: prefix segment %q: use letters, digits and !_.*'()-", location, seg)
			}
		}
	}
	return S3Location{Bucket: bucket, Prefix: prefix}, nil
}

// checkBucketName applies S3's naming rules for general purpose buckets.
func checkBucketName(b string) error {
	switch {
	case b == "":
		return errors.New("no bucket name")
	case len(b) < 3 || len(b) > 63:
		return fmt.Errorf("bucket name %q must be 3 to 63 characters long", b)
	case !bucketRE.MatchString(b):
		return fmt.Errorf("bucket name %q must be lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit", b)
	case strings.Contains(b, ".."):
		return fmt.Errorf("bucket name %q must not have two dots in a row", b)
	case net.ParseIP(b) != nil:
		return fmt.Errorf("bucket name %q must not be an IP address", b)
	case strings.HasPrefix(b, "xn--"), strings.HasPrefix(b, "sthree-"),
		strings.HasSuffix(b, "-s3alias"), strings.HasSuffix(b, "--ol-s3"):
		return fmt.Errorf("bucket name %q uses a prefix or suffix S3 reserves", b)
	}
	return nil
}

// checkS3Endpoint checks that an endpoint is an http or https URL with a
// host and nothing after its path.
func checkS3Endpoint(endpoint string) error {
	if !strings.HasPrefix(endpoint, "http://") && !strings.HasPrefix(endpoint, "https://") {
		return fmt.Errorf("queries.s3_endpoint %q must be an http:// or https:// URL", endpoint)
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("queries.s3_endpoint %q is not a URL: %w", endpoint, err)
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("queries.s3_endpoint %q has no host", endpoint)
	case u.User != nil:
		return fmt.Errorf("queries.s3_endpoint %q must not hold credentials: they come from the AWS credential chain", endpoint)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("queries.s3_endpoint %q must not have a query or fragment", endpoint)
	}
	return nil
}

// NewS3Store opens the store at location (s3://bucket/prefix) with the
// standard AWS configuration chain: credentials and region from the
// environment, the shared config files, or the instance's role. With an
// endpoint (an S3-compatible store such as MinIO) requests use path-style
// URLs, and the region defaults to us-east-1. It makes no request.
func NewS3Store(ctx context.Context, location, endpoint string) (*S3Store, error) {
	return newS3Store(ctx, location, endpoint)
}

// newS3Store is NewS3Store with more configuration, for tests.
func newS3Store(ctx context.Context, location, endpoint string, optFns ...func(*config.LoadOptions) error) (*S3Store, error) {
	loc, err := ParseS3Location(location)
	if err != nil {
		return nil, err
	}
	if endpoint != "" {
		if err := checkS3Endpoint(endpoint); err != nil {
			return nil, fmt.Errorf("result store %s: %w", location, err)
		}
		optFns = append([]func(*config.LoadOptions) error{config.WithDefaultRegion("us-east-1")}, optFns...)
	}
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return nil, fmt.Errorf("result store %s: load the AWS configuration: %w", location, err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("result store %s: no AWS region: set AWS_REGION (or region in ~/.aws/config)", location)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	})
	return &S3Store{client: client, location: loc, timeout: s3RequestTimeout}, nil
}

// Location returns where the store keeps the results.
func (s *S3Store) Location() S3Location { return s.location }

// object returns the key of a query's result and its s3:// URL.
func (s *S3Store) object(query string) (key, where string, err error) {
	if err := checkStoredName(query); err != nil {
		return "", "", err
	}
	key = s.location.key(query)
	return key, "s3://" + s.location.Bucket + "/" + key, nil
}

// Load reads PREFIX/NAME.json with GetObject. A missing object is no
// result; a missing bucket, refused credentials or an unreachable store
// are errors.
func (s *S3Store) Load(ctx context.Context, query string) (Result, bool, error) {
	key, where, err := s.object(query)
	if err != nil {
		return Result{}, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.location.Bucket), Key: aws.String(key)})
	if err != nil {
		var missing *types.NoSuchKey
		if errors.As(err, &missing) {
			return Result{}, false, nil
		}
		return Result{}, false, fmt.Errorf("load result %s from %s: %w", query, where, &s3Error{err})
	}
	defer out.Body.Close()
	if n := aws.ToInt64(out.ContentLength); n > maxStoredResult {
		return Result{}, false, &CorruptResultError{Query: query, Location: where, Err: fmt.Errorf("larger than %d bytes (%d)", maxStoredResult, n)}
	}
	b, err := io.ReadAll(io.LimitReader(out.Body, maxStoredResult+1))
	if err != nil {
		return Result{}, false, fmt.Errorf("load result %s from %s: %w", query, where, &s3Error{err})
	}
	r, err := decodeResult(query, b)
	if err != nil {
		return Result{}, false, &CorruptResultError{Query: query, Location: where, Err: err}
	}
	return r, true, nil
}

// Save writes PREFIX/NAME.json with one PutObject, which replaces the
// object whole.
func (s *S3Store) Save(ctx context.Context, r Result) error {
	key, where, err := s.object(r.Query)
	if err != nil {
		return err
	}
	b, err := encodeResult(r)
	if err != nil {
		return fmt.Errorf("save result of query %s to %s: %w", r.Query, where, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.location.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))),
		ContentType:   aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("save result of query %s to %s: %w", r.Query, where, &s3Error{err})
	}
	return nil
}

// s3Error renders an error of the S3 API as its code, message and HTTP
// status ("InvalidAccessKeyId: The Access Key Id you provided does not
// exist in our records. (HTTP 403)") rather than the SDK's operation,
// request and host IDs; errors.As still reaches the SDK's error.
type s3Error struct{ err error }

func (e *s3Error) Error() string {
	var api smithy.APIError
	if !errors.As(e.err, &api) {
		return e.err.Error()
	}
	msg := api.ErrorCode()
	if m := api.ErrorMessage(); m != "" {
		msg += ": " + m
	}
	var resp *awshttp.ResponseError
	if errors.As(e.err, &resp) {
		msg += fmt.Sprintf(" (HTTP %d)", resp.HTTPStatusCode())
	}
	return msg
}

func (e *s3Error) Unwrap() error { return e.err }
