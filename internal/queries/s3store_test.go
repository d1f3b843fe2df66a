package queries

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/queryfile"
)

func TestParseS3Location(t *testing.T) {
	long := strings.Repeat("p", maxS3Prefix+1)
	tests := []struct {
		location string
		want     S3Location
		err      string
	}{
		{location: "s3://results", want: S3Location{Bucket: "results"}},
		{location: "s3://results/", want: S3Location{Bucket: "results"}},
		{location: "s3://my-bucket.v2/esm/queries", want: S3Location{Bucket: "my-bucket.v2", Prefix: "esm/queries"}},
		{location: "s3://abc/esm/queries/", want: S3Location{Bucket: "abc", Prefix: "esm/queries"}},
		{location: "s3://abc/Prod_(1)!*'.x-y", want: S3Location{Bucket: "abc", Prefix: "Prod_(1)!*'.x-y"}},
		{location: "s3://", err: "result store s3://: no bucket name"},
		{location: "s3:///prefix", err: "result store s3:///prefix: no bucket name"},
		{location: "s3://ab", err: `bucket name "ab" must be 3 to 63 characters long`},
		{location: "s3://" + strings.Repeat("a", 64), err: "must be 3 to 63 characters long"},
		{location: "s3://Results", err: `bucket name "Results" must be lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit`},
		{location: "s3://my_bucket", err: "must be lowercase letters"},
		{location: "s3://-abc", err: "must be lowercase letters"},
		{location: "s3://abc-", err: "must be lowercase letters"},
		{location: "s3://a..b", err: `bucket name "a..b" must not have two dots in a row`},
		{location: "s3://192.168.1.1", err: "must not be an IP address"},
		{location: "s3://xn--abc", err: "uses a prefix or suffix S3 reserves"},
		{location: "s3://abc-s3alias", err: "uses a prefix or suffix S3 reserves"},
		{location: "s3://abc//x", err: "the prefix has an empty segment (//)"},
		{location: "s3://abc/a//b", err: "the prefix has an empty segment (//)"},
		{location: "s3://abc/a/../b", err: `the prefix has a ".." segment`},
		{location: "s3://abc/./b", err: `the prefix has a "." segment`},
		{location: "s3://abc/a b", err: `prefix segment "a b": use letters, digits and !_.*'()-`},
		{location: "s3://abc/a?x=1", err: `prefix segment "a?x=1"`},
		{location: "s3://abc/" + long, err: "the prefix is longer than"},
		{location: "S3://abc", err: "want s3://bucket/prefix"},
	}
	for _, tt := range tests {
		name := tt.location
		if len(name) > 40 {
			name = name[:40] + "..."
		}
		t.Run(name, func(t *testing.T) {
			got, err := ParseS3Location(tt.location)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			again, err := ParseS3Location(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, again, "String round trip")
		})
	}
}

func TestS3LocationKey(t *testing.T) {
	assert.Equal(t, "orders.json", S3Location{Bucket: "b"}.key("orders"))
	assert.Equal(t, "esm/prod/orders.json", S3Location{Bucket: "b", Prefix: "esm/prod"}.key("orders"))
	assert.Equal(t, "s3://b", S3Location{Bucket: "b"}.String())
	assert.Equal(t, "s3://b/esm/prod", S3Location{Bucket: "b", Prefix: "esm/prod"}.String())
}

func TestOpenResultStore(t *testing.T) {
	// The AWS chain must find a region and no shared files of the machine,
	// and never ask an instance metadata service.
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "results")

	s, err := OpenResultStore(ctx, dir, StoreOptions{})
	require.NoError(t, err)
	assert.IsType(t, &DirStore{}, s)
	s, err = OpenResultStore(ctx, "", StoreOptions{})
	require.NoError(t, err)
	assert.Equal(t, NewDirStore(DefaultResultStore), s)

	s, err = OpenResultStore(ctx, "s3://esm-results/prod", StoreOptions{})
	require.NoError(t, err)
	require.IsType(t, &S3Store{}, s)
	assert.Equal(t, S3Location{Bucket: "esm-results", Prefix: "prod"}, s.(*S3Store).Location())
	_, err = OpenResultStore(ctx, "s3://esm-results/prod", StoreOptions{S3Endpoint: "http://127.0.0.1:9000"})
	require.NoError(t, err)

	tests := []struct {
		location, endpoint, err string
	}{
		{"gs://bucket/x", "", "result store gs://bucket/x: want a directory or s3://bucket/prefix"},
		{"s3://Bad", "", `result store s3://Bad: bucket name "Bad" must be lowercase`},
		{dir, "http://127.0.0.1:9000", "result store " + dir + ": queries.s3_endpoint is set but the result store is a directory, not s3://bucket/prefix"},
		{"s3://abc", "127.0.0.1:9000", `result store s3://abc: queries.s3_endpoint "127.0.0.1:9000" must be an http:// or https:// URL`},
		{"s3://abc", "ftp://host", "must be an http:// or https:// URL"},
		{"s3://abc", "http://", `queries.s3_endpoint "http://" has no host`},
		{"s3://abc", "http://key:secret@host", "must not hold credentials: they come from the AWS credential chain"},
		{"s3://abc", "http://host/?x=1", "must not have a query or fragment"},
		{"s3://abc", "http://ho st", "is not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.location+" "+tt.endpoint, func(t *testing.T) {
			_, err := OpenResultStore(ctx, tt.location, StoreOptions{S3Endpoint: tt.endpoint})
			assert.ErrorContains(t, err, tt.err)
		})
	}
}

func TestOpenResultStoreNeedsARegionForAWS(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	_, err := OpenResultStore(context.Background(), "s3://abc/x", StoreOptions{})
	assert.EqualError(t, err, "result store s3://abc/x: no AWS region: set AWS_REGION (or region in ~/.aws/config)")
	// An S3-compatible store has a default region.
	_, err = OpenResultStore(context.Background(), "s3://abc/x", StoreOptions{S3Endpoint: "http://127.0.0.1:9000"})
	assert.NoError(t, err)
}

func TestS3StoreRejectsBadNames(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s, err := NewS3Store(context.Background(), "s3://abc/x", "http://127.0.0.1:1")
	require.NoError(t, err)
	_, _, err = s.Load(context.Background(), "../escape")
	assert.EqualError(t, err, `invalid query name "../escape"`)
	assert.EqualError(t, s.Save(context.Background(), Result{Query: "a/b"}), `invalid query name "a/b"`)
}

func TestS3ErrorKeepsTheCause(t *testing.T) {
	cause := errors.New("dial tcp: connection refused")
	err := &s3Error{cause}
	assert.Equal(t, "dial tcp: connection refused", err.Error())
	assert.ErrorIs(t, err, cause)
}

func TestS3StoreRoundTrip(t *testing.T) {
	m := s3Server(t)
	bucket := m.bucket(t)
	s := m.store(t, "s3://"+bucket+"/esm/prod/", m.accessKey, m.secretKey)
	want := testStoreRoundTrip(t, s)
	ctx := context.Background()

	assert.Equal(t, []string{"esm/prod/orders.json"}, m.keys(t, bucket))
	// The object is what the directory store writes.
	dir := NewDirStore(t.TempDir())
	require.NoError(t, dir.Save(ctx, want))
	file, err := os.ReadFile(filepath.Join(dir.dir, "orders.json"))
	require.NoError(t, err)
	assert.Equal(t, string(file), string(m.get(t, bucket, "esm/prod/orders.json")))

	// At the bucket's root, without a prefix.
	root := m.store(t, "s3://"+bucket, m.accessKey, m.secretKey)
	require.NoError(t, root.Save(ctx, Result{Query: "daily", Time: t0, Rows: []Row{}}))
	assert.ElementsMatch(t, []string{"daily.json", "esm/prod/orders.json"}, m.keys(t, bucket))
	_, ok, err := root.Load(ctx, "orders")
	require.NoError(t, err)
	assert.False(t, ok, "another prefix's result is not this store's")
}

func TestS3StoreCorruptObject(t *testing.T) {
	m := s3Server(t)
	bucket := m.bucket(t)
	s := m.store(t, "s3://"+bucket+"/p", m.accessKey, m.secretKey)
	tests := []struct {
		name, content, err string
	}{
		{"not json", `{not json`, "decode: invalid character 'n' looking for beginning of object key string"},
		{"other query", `{"version":1,"query":"other","time":"2026-01-02T03:00:00Z"}`, `holds the result of query "other"`},
		{"newer format", `{"version":2,"query":"x","time":"2026-01-02T03:00:00Z"}`, "format version 2, want 1"},
		{"empty", ``, "decode: unexpected end of JSON input"},
		{"too large", strings.Repeat(" ", maxStoredResult+1), fmt.Sprintf("larger than %d bytes (%d)", maxStoredResult, maxStoredResult+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m.put(t, bucket, "p/x.json", []byte(tt.content))
			_, ok, err := s.Load(context.Background(), "x")
			assert.False(t, ok)
			var ce *CorruptResultError
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, "x", ce.Query)
			assert.Equal(t, "s3://"+bucket+"/p/x.json", ce.Location)
			assert.EqualError(t, err, "stored result of query x at s3://"+bucket+"/p/x.json: "+tt.err)
		})
	}
}

func TestS3StoreErrors(t *testing.T) {
	m := s3Server(t)
	bucket := m.bucket(t)
	ctx := context.Background()
	r := Result{Query: "orders", Time: t0, Rows: []Row{}}
	tests := []struct {
		name  string
		store *S3Store
		load  string
		save  string
	}{
		{
			name:  "wrong access key",
			store: m.store(t, "s3://"+bucket+"/p", "nobody", m.secretKey),
			load:  "load result orders from s3://" + bucket + "/p/orders.json: InvalidAccessKeyId: The Access Key Id you provided does not exist in our records. (HTTP 403)",
			save:  "save result of query orders to s3://" + bucket + "/p/orders.json: InvalidAccessKeyId: The Access Key Id you provided does not exist in our records. (HTTP 403)",
		},
		{
			name:  "wrong secret key",
			store: m.store(t, "s3://"+bucket+"/p", m.accessKey, "wrong-secret"),
			load:  "load result orders from s3://" + bucket + "/p/orders.json: SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your key and signing method. (HTTP 403)",
			save:  "save result of query orders to s3://" + bucket + "/p/orders.json: SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your key and signing method. (HTTP 403)",
		},
		{
			name:  "missing bucket",
			store: m.store(t, "s3://"+bucket+"-gone/p", m.accessKey, m.secretKey),
			load:  "load result orders from s3://" + bucket + "-gone/p/orders.json: NoSuchBucket: The specified bucket does not exist (HTTP 404)",
			save:  "save result of query orders to s3://" + bucket + "-gone/p/orders.json: NoSuchBucket: The specified bucket does not exist (HTTP 404)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, err := tt.store.Load(ctx, "orders")
			assert.False(t, ok)
			assert.EqualError(t, err, tt.load)
			var ce *CorruptResultError
			assert.False(t, errors.As(err, &ce), "not a corrupt result: the store is unreadable")
			var api smithy.APIError
			assert.True(t, errors.As(err, &api), "the SDK's error is kept")
			assert.EqualError(t, tt.store.Save(ctx, r), tt.save)
		})
	}
	assert.Empty(t, m.keys(t, bucket), "nothing was written")
}

func TestS3StoreUnreachable(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	addr := freeAddr(t) // nothing listens there any more
	s, err := NewS3Store(context.Background(), "s3://abc/p", "http://"+addr)
	require.NoError(t, err)
	s.timeout = 2 * time.Second
	start := time.Now()
	_, ok, err := s.Load(context.Background(), "orders")
	assert.False(t, ok)
	assert.ErrorContains(t, err, "load result orders from s3://abc/p/orders.json: ")
	assert.ErrorContains(t, err, "connection refused")
	assert.Less(t, time.Since(start), 10*time.Second, "bounded by the request timeout")
}

// TestOpenResultStoreS3 opens the store as esm serve does: credentials
// from the standard AWS chain (here its environment variables).
func TestOpenResultStoreS3(t *testing.T) {
	m := s3Server(t)
	bucket := m.bucket(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", m.accessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.secretKey)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	ctx := context.Background()
	s, err := OpenResultStore(ctx, "s3://"+bucket+"/esm", StoreOptions{S3Endpoint: m.endpoint})
	require.NoError(t, err)
	want := Result{Query: "orders", Time: t0, Rows: []Row{{Labels: []string{}, Value: 7}}, Labels: []string{}}
	require.NoError(t, s.Save(ctx, want))
	got, ok, err := s.Load(ctx, "orders")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, want, got)
	assert.Equal(t, []string{"esm/orders.json"}, m.keys(t, bucket))
}

func TestSchedulerRestartS3(t *testing.T) {
	m := s3Server(t)
	location := "s3://" + m.bucket(t) + "/esm/queries"
	testRestart(t, sqliteDatabase(t), func() ResultStore { return m.store(t, location, m.accessKey, m.secretKey) })
}

func TestSchedulerS3CorruptResultRunsAgain(t *testing.T) {
	m := s3Server(t)
	bucket := m.bucket(t)
	db := sqliteDatabase(t)
	table := db.table(t, "n INTEGER", "(1)")
	store := m.store(t, "s3://"+bucket+"/q", m.accessKey, m.secretKey)
	q := testQuery("daily", "SELECT count(*) FROM "+table)
	q.Interval = 24 * time.Hour
	q.NamePos.Filename, q.NamePos.Line, q.NamePos.Column = "queries/daily.yaml", 1, 7
	first := newSchedulerFixture(t, db, store)
	require.Empty(t, first.s.Set(context.Background(), []*queryfile.Query{q}))
	require.Equal(t, 1, first.runDue())
	m.put(t, bucket, "q/daily.json", []byte("{not json"))

	second := first.restart(t)
	warnings := second.s.Set(context.Background(), []*queryfile.Query{q})
	require.Len(t, warnings, 1)
	assert.Equal(t, "queries/daily.yaml:1:7: warning: stored result of query daily at s3://"+bucket+
		"/q/daily.json: decode: invalid character 'n' looking for beginning of object key string; running the query again", warnings[0].Error())
	assert.Equal(t, 1, second.runDue(), "the query runs again")
	r, ok, err := store.Load(context.Background(), "daily")
	require.NoError(t, err)
	require.True(t, ok, "the new result replaced the corrupt one")
	assert.Equal(t, []Row{{Labels: []string{}, Value: 1}}, r.Rows)
}

// FuzzParseS3Location checks that any location is accepted or refused
// without a panic, and that an accepted one renders back to itself.
func FuzzParseS3Location(f *testing.F) {
	for _, s := range []string{"s3://abc", "s3://abc/p/q/", "s3://a..b", "s3://abc//x", "s3://192.168.1.1", "s3://abc/a?b#c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, location string) {
		l, err := ParseS3Location(location)
		if err != nil {
			return
		}
		again, err := ParseS3Location(l.String())
		if err != nil || again != l {
			t.Fatalf("%q parsed as %+v, which renders as %q and parses as %+v, %v", location, l, l.String(), again, err)
		}
		if err := checkBucketName(l.Bucket); err != nil {
			t.Fatalf("%q: accepted bucket %q: %v", location, l.Bucket, err)
		}
		if strings.Contains(l.key("x"), "//") || strings.HasPrefix(l.key("x"), "/") || len(l.key(strings.Repeat("x", queryfile.MaxNameLen))) > 1024 {
			t.Fatalf("%q: bad key %q", location, l.key("x"))
		}
	})
}

func TestS3StoreNoCredentials(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s, err := NewS3Store(context.Background(), "s3://abc/p", "http://"+freeAddr(t))
	require.NoError(t, err, "credentials are looked up on the first request")
	_, ok, err := s.Load(context.Background(), "x")
	assert.False(t, ok)
	assert.ErrorContains(t, err, "load result x from s3://abc/p/x.json: ")
	assert.ErrorContains(t, err, "get credentials")
	assert.ErrorContains(t, s.Save(context.Background(), Result{Query: "x", Time: t0}), "save result of query x to s3://abc/p/x.json: ")
}
