package queries

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/esm-dev/esm/internal/testenv"
	"github.com/stretchr/testify/require"
)

// Tests of the S3 store run against a real S3-compatible server:
//
//   - ESM_TEST_S3_ENDPOINT (with ESM_TEST_S3_ACCESS_KEY and
//     ESM_TEST_S3_SECRET_KEY, default minioadmin/minioadmin) names a
//     running one; or
//   - a minio binary, on PATH or where .ci/run builds it
//     (${XDG_CACHE_HOME:-$HOME/.cache}/esm-ci/minio/minio), is started
//     by the test on 127.0.0.1 with a temporary data directory.
//
// Without either the tests skip, except under CI=true, where they fail.
// Each test works in a bucket of its own.

// testS3 is an S3-compatible server for a test.
type testS3 struct {
	endpoint, accessKey, secretKey string
	admin                          *s3.Client
}

// minioBinary returns the minio binary to start, or "".
func minioBinary() string {
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	p := filepath.Join(cache, "esm-ci", "minio", "minio")
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return p
	}
	return ""
}

// s3Server returns the server named by ESM_TEST_S3_ENDPOINT, or a MinIO
// it starts, or skips the test (fails it under CI=true).
func s3Server(t *testing.T) *testS3 {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		testenv.Missing(t, "no S3-compatible server: %s (set ESM_TEST_S3_ENDPOINT, or install minio: go install github.com/minio/minio@latest)", fmt.Sprintf(format, args...))
	}
	var m *testS3
	if endpoint := os.Getenv("ESM_TEST_S3_ENDPOINT"); endpoint != "" {
		m = &testS3{endpoint: endpoint, accessKey: envOr("ESM_TEST_S3_ACCESS_KEY", "minioadmin"), secretKey: envOr("ESM_TEST_S3_SECRET_KEY", "minioadmin")}
		if err := waitLive(m.endpoint, 5*time.Second, nil); err != nil {
			missing("ESM_TEST_S3_ENDPOINT %s: %v", endpoint, err)
		}
	} else {
		bin := minioBinary()
		if bin == "" {
			missing("no minio binary on PATH nor in the CI cache")
		}
		m = startMinIO(t, bin)
	}
	m.admin = m.client(m.accessKey, m.secretKey)
	return m
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// syncBuffer is a bytes.Buffer safe for a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startMinIO starts minio on free ports of 127.0.0.1 with a temporary
// data directory and stops it when the test ends. A port taken between
// choosing and binding it makes minio exit; it is tried again.
func startMinIO(t *testing.T, bin string) *testS3 {
	t.Helper()
	var lastErr error
	for range 3 {
		m, err := tryStartMinIO(t, bin)
		if err == nil {
			return m
		}
		lastErr = err
	}
	t.Fatalf("start %s: %v", bin, lastErr)
	return nil
}

func tryStartMinIO(t *testing.T, bin string) (*testS3, error) {
	dir := t.TempDir() // removed after the server stops: cleanups run last first
	addr, console := freeAddr(t), freeAddr(t)
	m := &testS3{endpoint: "http://" + addr, accessKey: "esmtest" + randomHex(4), secretKey: randomHex(16)}
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console, dir)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "MINIO_ROOT_USER="+m.accessKey, "MINIO_ROOT_PASSWORD="+m.secretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	if err := waitLive(m.endpoint, 30*time.Second, exited); err != nil {
		stop()
		return nil, fmt.Errorf("%v; output:\n%s", err, out.String())
	}
	t.Cleanup(stop)
	return m, nil
}

// freeAddr returns an address of 127.0.0.1 with a port free just now.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// waitLive polls the server's liveness endpoint until it answers 200,
// the process exits (exited closes) or the timeout passes.
func waitLive(endpoint string, timeout time.Duration, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		resp, err := client.Get(strings.TrimSuffix(endpoint, "/") + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("health check: %s", resp.Status)
		}
		lastErr = err
		select {
		case <-exited:
			return errors.New("the server exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("not live after %v: %v", timeout, lastErr)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// s3ConfigFor configures the AWS SDK with static credentials and none of
// the machine's shared files.
func s3ConfigFor(accessKey, secretKey string) []func(*config.LoadOptions) error {
	return []func(*config.LoadOptions) error{
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRegion("us-east-1"),
	}
}

// client returns a client of the server with the given credentials.
func (m *testS3) client(accessKey, secretKey string) *s3.Client {
	cfg, err := config.LoadDefaultConfig(context.Background(), s3ConfigFor(accessKey, secretKey)...)
	if err != nil {
		panic(err) // static settings: cannot fail
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(m.endpoint)
		o.UsePathStyle = true
	})
}

// bucket creates a bucket for the test, emptied and removed at its end.
func (m *testS3) bucket(t *testing.T) string {
	t.Helper()
	name := "esm-test-" + randomHex(6)
	ctx := context.Background()
	_, err := m.admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	require.NoError(t, err, "create bucket %s", name)
	t.Cleanup(func() {
		out, err := m.admin.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
		if err == nil {
			for _, o := range out.Contents {
				m.admin.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: o.Key})
			}
		}
		m.admin.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	})
	return name
}

// store opens the S3 store at location on the server with the given
// credentials.
func (m *testS3) store(t *testing.T, location, accessKey, secretKey string) *S3Store {
	t.Helper()
	s, err := newS3Store(context.Background(), location, m.endpoint, s3ConfigFor(accessKey, secretKey)...)
	require.NoError(t, err)
	return s
}

// put writes an object as is.
func (m *testS3) put(t *testing.T, bucket, key string, body []byte) {
	t.Helper()
	_, err := m.admin.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	require.NoError(t, err)
}

// get reads an object.
func (m *testS3) get(t *testing.T, bucket, key string) []byte {
	t.Helper()
	out, err := m.admin.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	defer out.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(out.Body)
	require.NoError(t, err)
	return b.Bytes()
}

// keys lists the keys of a bucket.
func (m *testS3) keys(t *testing.T, bucket string) []string {
	t.Helper()
	out, err := m.admin.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}
