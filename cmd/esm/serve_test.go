package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testAddToCart = `{"cart_id": "c1", "sku": "S-1", "quantity": 2, "unit_price": "9.99", "occurred_at": 1700000000000}`

// startServer builds the server for cfg and serves it on 127.0.0.1:0
// until stop is called; stop returns what serve returned.
func startServer(t *testing.T, cfg serveConfig) (base string, stop func() error) {
	t.Helper()
	s, err := newServer(cfg)
	require.NoError(t, err)
	return serveOnLoopback(t, s)
}

// serveOnLoopback serves s on 127.0.0.1:0 until stop is called; stop
// returns what serve returned.
func serveOnLoopback(t testing.TB, s *server) (base string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln) }()
	var once sync.Once
	var serveErr error
	stop = func() error {
		once.Do(func() { cancel(); serveErr = <-done })
		return serveErr
	}
	t.Cleanup(func() { _ = stop() })
	return "http://" + ln.Addr().String(), stop
}

// testServeConfig is a collector on the example schemas with DogStatsD
// sent to statsd ("" for none).
func testServeConfig(statsd string) serveConfig {
	return serveConfig{
		role: "all", listen: "127.0.0.1:0", env: "prod", schemas: "../../schemas", maxBody: 1 << 20,
		statsdAddr: statsd, debounce: 50 * time.Millisecond, burstCount: 1, burstWindow: time.Hour,
		shutdownWait: 10 * time.Second, log: slog.New(slog.DiscardHandler),
	}
}

func httpPost(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestServeCollectorMetricsAndShutdown(t *testing.T) {
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer sink.Close()
	base, stop := startServer(t, testServeConfig(sink.LocalAddr().String()))

	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	status, body := httpPost(t, base+"/v1/events/AddToCartEvent", testAddToCart)
	assert.Equal(t, http.StatusAccepted, status)
	assert.JSONEq(t, `{"accepted":1}`, body)
	status, body = httpPost(t, base+"/v1/events", `{"type": "AddToCartEvent", "event": `+testAddToCart+"}\n"+`{"type": "Bogus", "event": {}}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.JSONEq(t, `{"accepted":1,"rejected":[{"line":2,"type":"Bogus","reason":"unknown_type","error":"unknown event type"}],"rejected_count":1}`, body)
	status, _ = httpPost(t, base+"/v1/events/Bogus", `{}`)
	assert.Equal(t, http.StatusNotFound, status)

	// An event in flight when the shutdown starts is answered and counted.
	pr, pw := io.Pipe()
	inflight := make(chan int, 1)
	go func() {
		resp, err := http.Post(base+"/v1/events/AddToCartEvent", "application/json", pr)
		if err != nil {
			inflight <- -1
			return
		}
		resp.Body.Close()
		inflight <- resp.StatusCode
	}()
	_, err = pw.Write([]byte(testAddToCart[:10]))
	require.NoError(t, err)

	// Scrape while the request is open.
	resp, err = http.Get(base + "/metrics")
	require.NoError(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	counts := map[string]float64{}
	for _, name := range []string{"esm_events_received_total", "esm_events_rejected_total"} {
		for _, m := range fams[name].GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			if v := m.GetCounter().GetValue(); v > 0 {
				counts[name+"{"+strings.Join(labels, ",")+"}"] = v
			}
		}
	}
	assert.Equal(t, map[string]float64{
		"esm_events_received_total{env=prod,event_type=AddToCartEvent}":     2,
		"esm_events_rejected_total{event_type=unknown,reason=unknown_type}": 2,
	}, counts)

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(100 * time.Millisecond) // let the shutdown begin
	_, err = pw.Write([]byte(testAddToCart[10:]))
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	assert.Equal(t, http.StatusAccepted, <-inflight)
	require.NoError(t, <-stopped)

	// Closing flushed DogStatsD: each event counted once.
	var lines []string
	buf := make([]byte, 65536)
	for len(lines) < 2 {
		require.NoError(t, sink.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, err := sink.Read(buf)
		require.NoError(t, err, "got %q", lines)
		lines = append(lines, strings.Split(strings.TrimSpace(string(buf[:n])), "\n")...)
	}
	sort.Strings(lines)
	assert.Equal(t, []string{
		"esm.events.received:3|c|#event_type:addtocartevent,env:prod",
		"esm.events.rejected:2|c|#event_type:unknown,reason:unknown_type,env:prod",
	}, lines)
}

func TestServeDatadogEventOnRejections(t *testing.T) {
	var mu sync.Mutex
	var events []map[string]any
	dd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/api/v1/events", r.URL.Path)
		var e map[string]any
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&e))
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status": "ok"}`)
	}))
	defer dd.Close()
	cfg := testServeConfig("")
	cfg.ddAPIKey, cfg.ddURL = "key", dd.URL
	base, stop := startServer(t, cfg)
	status, _ := httpPost(t, base+"/v1/events/AddToCartEvent", strings.Replace(testAddToCart, `"quantity": 2`, `"quantity": "2"`, 1))
	assert.Equal(t, http.StatusBadRequest, status)
	require.NoError(t, stop()) // the last window is closed on shutdown

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, events, 1)
	assert.Equal(t, []any{"event_type:addtocartevent", "env:prod", "source:esm", "reason:schema"}, events[0]["tags"])
	assert.Contains(t, events[0]["text"], "quantity: expected int, got string")
}

func TestServeConfigurationErrors(t *testing.T) {
	t.Setenv("ESM_LISTEN", "no-port")
	t.Setenv("ESM_STATSD_ADDR", "off")
	r := runESM(t, "serve", "--role", "robot", "--max-body", "lots", "--schemas", t.TempDir())
	assert.Equal(t, exitFailure, r.code)
	for _, want := range []string{`--role / ESM_ROLE: "robot"`, `--listen / ESM_LISTEN: "no-port"`, `--max-body / ESM_MAX_BODY: "lots"`} {
		assert.Contains(t, r.stderr, want)
	}

	// bot: the bot's settings are required with --role bot, all reported.
	r = runESM(t, "serve", "--role", "bot")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "ESM_WEBHOOK_SECRET is required")
	assert.Contains(t, r.stderr, "ESM_ALLOWED_REPOS")

	// Problems found while building the server come in one error too.
	cfg := testServeConfig("")
	cfg.env, cfg.schemas = "moon", t.TempDir()
	_, err := newServer(cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `--env: unknown environment "moon"`)
	assert.Contains(t, err.Error(), "--schemas: load schemas")

	r = runESM(t, "serve", "--listen", "127.0.0.1:0", "--statsd", "off", "--env", "moon", "--schemas", t.TempDir())
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, `unknown environment "moon"`)
	assert.Contains(t, r.stderr, "no record types found")
}

// seriesCount is the number of series the registry exposes, as Prometheus
// counts them (a histogram is its buckets, +Inf, _sum and _count), and
// the size of one scrape of /metrics.
func seriesCount(t *testing.T, s *server) (series, scrapeBytes int) {
	t.Helper()
	fams, err := s.metrics.Registry().Gather()
	require.NoError(t, err)
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetHistogram() != nil:
				series += len(m.GetHistogram().GetBucket()) + 3
			case m.GetSummary() != nil:
				series += len(m.GetSummary().GetQuantile()) + 2
			default:
				series++
			}
		}
	}
	rec := httptest.NewRecorder()
	s.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return series, rec.Body.Len()
}

// TestServeSeriesBoundedByFixedLabels drives the esm serve handler stack
// with 10,000 requests of invented methods, paths and event types: once
// each fixed label value has been seen, they add no series. Before, every
// invented method added 17 series (a request counter and a duration
// histogram). Run with -v for the figures.
func TestServeSeriesBoundedByFixedLabels(t *testing.T) {
	s, err := newServer(testServeConfig(""))
	require.NoError(t, err)
	defer s.close()
	send := func(i int) {
		var req *http.Request
		switch i % 5 {
		case 0: // an invented method on a real route
			req = httptest.NewRequest("M"+strconv.Itoa(i), "/v1/events/AddToCartEvent", strings.NewReader(testAddToCart))
		case 1: // an invented method on an invented path
			req = httptest.NewRequest("X-"+strconv.Itoa(i), "/nope/"+strconv.Itoa(i), nil)
		case 2: // a standard method on an invented path
			req = httptest.NewRequest(http.MethodGet, "/random/"+strconv.Itoa(i)+"/path", nil)
		case 3: // an invented event type
			req = httptest.NewRequest(http.MethodPost, "/v1/events/Type"+strconv.Itoa(i), strings.NewReader(`{}`))
		case 4: // a batch of invented event types
			req = httptest.NewRequest(http.MethodPost, "/v1/events",
				strings.NewReader(`{"type": "T`+strconv.Itoa(i)+`", "event": {}}`+"\n"+`{"type": "com.x.U`+strconv.Itoa(i)+`", "event": {}}`))
		}
		s.Handler.ServeHTTP(httptest.NewRecorder(), req)
	}
	cold, coldBytes := seriesCount(t, s)
	for i := range 10 { // every fixed label value once
		send(i)
	}
	warm, warmBytes := seriesCount(t, s)
	for i := 10; i < 10_010; i++ {
		send(i)
	}
	after, afterBytes := seriesCount(t, s)
	t.Logf("series: %d at start, %d after one request of each kind, %d after 10,000 more (+%d); /metrics: %d, %d, %d bytes",
		cold, warm, after, after-warm, coldBytes, warmBytes, afterBytes)
	assert.LessOrEqual(t, after-warm, 10, "10,000 requests with invented methods, paths and types added series")
	assert.LessOrEqual(t, warm-cold, 100, "the fixed label values themselves are a handful")
}
