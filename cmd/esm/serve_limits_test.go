package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/github/ghtest"
	"github.com/esm-dev/esm/webhook"
)

// safety bounds every wait of these tests; none of them measures speed.
const safety = 15 * time.Second

// limitedServeConfig is testServeConfig with the server's limits set small.
func limitedServeConfig() serveConfig {
	cfg := testServeConfig("")
	cfg.readTimeout, cfg.writeTimeout, cfg.idleTimeout = 300*time.Millisecond, 300*time.Millisecond, time.Minute
	cfg.maxConns, cfg.maxInflightBody, cfg.budgetWait = 64, 64<<20, 200*time.Millisecond
	return cfg
}

// dialServer opens a TCP connection to the server at base.
func dialServer(t *testing.T, base string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitClosed reads c until the server closes it and returns what came;
// it fails the test when c is still open after the safety bound.
func waitClosed(t *testing.T, c net.Conn) string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(safety)))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection is still open after %s (got %d bytes)", safety, len(b))
	}
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func TestServeReadTimeoutCutsSlowClients(t *testing.T) {
	const event = "/v1/events/AddToCartEvent"
	headers := "POST " + event + " HTTP/1.1\r\nHost: esm\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
	tests := []struct {
		name string
		sent string // written at once
		slow string // then one byte per 100 ms
	}{
		{name: "slow headers", slow: headers},
		{name: "slow body", sent: headers, slow: strings.Repeat(" ", 1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, _ := startServer(t, limitedServeConfig())
			c := dialServer(t, base)
			_, err := io.WriteString(c, tt.sent)
			require.NoError(t, err)
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for i := 0; i < len(tt.slow); i++ {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					if _, err := io.WriteString(c, tt.slow[i:i+1]); err != nil {
						return // the server closed the connection
					}
				}
			}()
			answer := waitClosed(t, c)
			t.Logf("%q", answer)
			assert.NotContains(t, answer, "HTTP/1.1 202", "a request that never fully arrived is not accepted")
		})
	}
}

func TestServeWriteTimeoutClosesClientsThatDoNotRead(t *testing.T) {
	cfg := limitedServeConfig()
	// Ample for a client that reads, even under -race on a busy machine
	// (5 s was not: the 8 MB answer took longer to encode).
	cfg.writeTimeout = 15 * time.Second
	s, err := newServer(cfg)
	require.NoError(t, err)
	// A /metrics answer far larger than the sockets' buffers (a few MiB).
	const series = 40_000
	big := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "test_big", Help: "a large answer"}, []string{"id"})
	s.metrics.Registry().MustRegister(big)
	pad := strings.Repeat("x", 200)
	for i := range series {
		big.WithLabelValues(fmt.Sprintf("%s%d", pad, i)).Set(1)
	}
	last := fmt.Sprintf("\ntest_big{id=\"%s%d\"} 1\n", pad, series-1)
	base, _ := serveOnLoopback(t, s)

	// A client that reads gets the whole answer.
	resp, err := (&http.Client{Timeout: safety}).Get(base + "/metrics")
	require.NoError(t, err)
	whole, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(whole), last)

	// One that does not read for longer than the write timeout is cut off.
	c := dialServer(t, base)
	_, err = io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: esm\r\n\r\n")
	require.NoError(t, err)
	time.Sleep(cfg.writeTimeout + time.Second) // the client reads nothing

	answer := waitClosed(t, c)
	t.Logf("a client that did not read got %d of %d bytes", len(answer), len(whole))
	assert.Less(t, len(answer), len(whole), "the answer is cut off, not sent whole")
	assert.NotContains(t, answer, last)
}

func TestServeMaxConnections(t *testing.T) {
	cfg := limitedServeConfig()
	cfg.maxConns = 2
	base, _ := startServer(t, cfg)

	get := func(c net.Conn, wait time.Duration) (int, error) {
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: esm\r\n\r\n"); err != nil {
			return 0, err
		}
		require.NoError(t, c.SetReadDeadline(time.Now().Add(wait)))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	held := []net.Conn{dialServer(t, base), dialServer(t, base)}
	for _, c := range held {
		status, err := get(c, safety)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
	}

	third := dialServer(t, base)
	r := bufio.NewReader(third)
	_, err := io.WriteString(third, "GET /healthz HTTP/1.1\r\nHost: esm\r\n\r\n")
	require.NoError(t, err)
	require.NoError(t, third.SetReadDeadline(time.Now().Add(time.Second)))
	_, err = r.Peek(1)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "the third connection is served while two are open: %v", err)

	require.NoError(t, held[0].Close())
	require.NoError(t, third.SetReadDeadline(time.Now().Add(safety)))
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err, "the third connection is served once one closes")
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestServeInflightBodyBudget(t *testing.T) {
	const (
		clients = 40
		body    = 1<<20 - 1
	)
	cfg := limitedServeConfig()
	cfg.readTimeout = 0 // the bodies stay in flight for the whole test
	cfg.maxBody, cfg.maxInflightBody = 1<<20, 4<<20
	base, _ := startServer(t, cfg)

	before := heapInUse()
	statuses := make(chan int, clients)
	conns := make([]net.Conn, clients)
	for i := range conns {
		conns[i] = dialServer(t, base)
		_, err := fmt.Fprintf(conns[i], "POST /v1/events/AddToCartEvent HTTP/1.1\r\nHost: esm\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", body)
		require.NoError(t, err)
		go func(c net.Conn) {
			_ = c.SetReadDeadline(time.Now().Add(safety))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return // still reading the body: no answer
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}(conns[i])
	}
	// 4 MiB hold four bodies of 1 MiB - 1; the others are refused.
	var refused []int
	for len(refused) < clients-4 {
		select {
		case st := <-statuses:
			refused = append(refused, st)
		case <-time.After(safety):
			t.Fatalf("%d of %d bodies beyond the budget answered: %v", len(refused), clients-4, refused)
		}
	}
	for _, st := range refused {
		assert.Equal(t, http.StatusServiceUnavailable, st)
	}
	grown := heapInUse() - before
	t.Logf("heap grew by %d KiB with %d bodies of %d bytes in flight", grown>>10, clients, body)
	assert.Less(t, grown, int64(16<<20), "the bodies in flight hold at most the budget (4 MiB), not %d × 1 MiB", clients)
	select {
	case st := <-statuses:
		t.Errorf("a body within the budget was answered %d before it arrived", st)
	default:
	}
}

// heapInUse returns the bytes of live heap objects after a collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC() // the second empties the pools the first moved aside
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func TestServeWebhookUnderLimits(t *testing.T) {
	gh := ghtest.NewServer(t)
	vars := map[string]string{
		envWebhookSecret: e2eSecret, envAllowedRepos: "runatlantis/*",
		envGitHubToken: "ghp_test", envGitHubURL: gh.URL,
	}
	bc, err := testBotConfig(map[string]string{"state-dir": t.TempDir()}, vars)
	require.NoError(t, err)
	cfg := limitedServeConfig()
	cfg.bot, cfg.maxConns = bc, 4
	base, _ := startServer(t, cfg)

	// Slow clients hold connections on the collector meanwhile.
	for range 2 {
		c := dialServer(t, base)
		_, err := io.WriteString(c, "POST /v1/events/AddToCartEvent HTTP/1.1\r\nHost: esm\r\nContent-Length: 100\r\n\r\n{")
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			body := []byte(`{"zen": "Keep it logically awesome.", "hook_id": 1}`)
			req, err := http.NewRequest(http.MethodPost, base+"/webhook", strings.NewReader(string(body)))
			if !assert.NoError(t, err) {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "ping")
			req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("ping-%d", i))
			req.Header.Set("X-Hub-Signature-256", webhook.Sign([]byte(e2eSecret), body))
			resp, err := (&http.Client{Timeout: safety}).Do(req)
			if !assert.NoError(t, err) {
				return
			}
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
	wg.Wait()
}

func TestServeLimitFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{name: "bad flags", args: []string{"--read-timeout", "soon", "--write-timeout", "0s", "--idle-timeout", "-1s", "--max-connections", "0", "--max-inflight-body", "lots"},
			want: []string{`--read-timeout / ESM_READ_TIMEOUT: "soon"`, `--write-timeout / ESM_WRITE_TIMEOUT: "0s"`, `--idle-timeout / ESM_IDLE_TIMEOUT: "-1s"`, `--max-connections / ESM_MAX_CONNECTIONS: "0"`, `--max-inflight-body / ESM_MAX_INFLIGHT_BODY: "lots"`}},
		{name: "bad environment", env: map[string]string{"ESM_READ_TIMEOUT": "x", "ESM_WRITE_TIMEOUT": "y", "ESM_IDLE_TIMEOUT": "z", "ESM_MAX_CONNECTIONS": "many", "ESM_MAX_INFLIGHT_BODY": "1KiB"},
			want: []string{`--read-timeout / ESM_READ_TIMEOUT: "x"`, `--write-timeout / ESM_WRITE_TIMEOUT: "y"`, `--idle-timeout / ESM_IDLE_TIMEOUT: "z"`, `--max-connections / ESM_MAX_CONNECTIONS: "many"`, `--max-inflight-body / ESM_MAX_INFLIGHT_BODY: "1KiB" is less than --max-body "1MiB"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ESM_STATSD_ADDR", "off")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			r := runESM(t, append([]string{"serve", "--role", "collector", "--schemas", "../../schemas", "--listen", "127.0.0.1:0"}, tt.args...)...)
			assert.Equal(t, exitFailure, r.code)
			for _, w := range tt.want {
				assert.Contains(t, r.stderr, w)
			}
		})
	}
}

func TestServeLimitDefaults(t *testing.T) {
	fl := (&app{}).serveCmd().Flags()
	for flag, want := range map[string]string{
		"read-timeout": "30s", "write-timeout": "30s", "idle-timeout": "2m", "max-connections": "1024", "max-inflight-body": "64MiB",
	} {
		t.Run(flag, func(t *testing.T) {
			f := fl.Lookup(flag)
			require.NotNil(t, f)
			assert.Equal(t, want, f.DefValue)
		})
	}
}
