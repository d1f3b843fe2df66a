// Command esm-loadgen measures the collector against a bare net/http
// handler, side by side in one run, and prints a markdown table.
//
// It starts both servers in-process on 127.0.0.1 (or takes their
// addresses with -bare and -collector), drives each at peak with -conns
// connections for -duration, then drives both at half of the collector's
// single-event peak rate and compares their p99 latencies. The bare
// handler reads the body and answers 204; the collector validates each
// event against the schemas and counts it in Prometheus and DogStatsD (to
// a UDP sink on 127.0.0.1).
//
//	go run ./cmd/esm-loadgen -duration 5s -rounds 3 -conns 32 -batch 100
//
// Every phase is bounded by -duration and -max-requests; only loopback
// addresses are accepted.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/esm-dev/esm/internal/collector"
	"github.com/esm-dev/esm/internal/metrics"
)

// event is a valid AddToCartEvent of the example schemas.
const event = `{"cart_id": "c-1842", "sku": "SKU-0042", "quantity": 2, "unit_price": "19.99", "occurred_at": 1700000000000, "coupon": null}`

// options are the command-line flags.
type options struct {
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	conns       int
	batch       int
	maxRequests int64
	schemas     string
	bare        string
	collector   string
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of each measured phase")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each phase")
	flag.IntVar(&o.rounds, "rounds", 3, "measure every phase this many times, alternating the servers")
	flag.IntVar(&o.conns, "conns", 32, "concurrent connections")
	flag.IntVar(&o.batch, "batch", 100, "events per NDJSON batch")
	flag.Int64Var(&o.maxRequests, "max-requests", 5_000_000, "stop a phase after this many requests")
	flag.StringVar(&o.schemas, "schemas", "schemas", "schema directory of the in-process collector")
	flag.StringVar(&o.bare, "bare", "", "address of a running bare handler (default: in-process)")
	flag.StringVar(&o.collector, "collector", "", "address of a running collector (default: in-process)")
	flag.Parse()
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "esm-loadgen:", err)
		os.Exit(1)
	}
}

// run measures and prints the table.
func run(o options, out io.Writer) error {
	if o.conns <= 0 || o.batch <= 0 || o.duration <= 0 || o.rounds <= 0 {
		return errors.New("-conns, -batch, -rounds and -duration must be positive")
	}
	bare, stopBare, err := target(o.bare, bareHandler())
	if err != nil {
		return err
	}
	defer stopBare()
	h, closeCollector, counting, err := collectorHandler(o.schemas)
	if err != nil {
		return err
	}
	defer closeCollector()
	coll, stopColl, err := target(o.collector, h)
	if err != nil {
		return err
	}
	defer stopColl()

	single := []byte(event)
	var nd bytes.Buffer
	for range o.batch {
		nd.WriteString(`{"type": "AddToCartEvent", "event": ` + event + "}\n")
	}
	batch := nd.Bytes()
	client := newClient(o.conns)

	fmt.Fprintf(out, "esm-loadgen: %d connections, %s per phase, %d rounds, GOMAXPROCS=%d, %s/%s, batch of %d events (%d bytes)\n\n",
		o.conns, o.duration, o.rounds, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, o.batch, len(batch))
	peak := func(base, path string, body []byte) (result, error) {
		warm := o
		warm.duration = o.warmup
		if _, err := load(client, base+path, body, warm, 0); err != nil {
			return result{}, err
		}
		return load(client, base+path, body, o, 0)
	}
	// Each round measures every phase, bare and collector in turn, so that
	// a noisy neighbour hurts both alike; the table shows the medians.
	var rows [5][]result
	var singleRatio, batchRatio, p99Ratio []float64
	var rates []float64
	for round := range o.rounds {
		bareSingle, err := peak(bare, "/", single)
		if err != nil {
			return fmt.Errorf("bare: %w", err)
		}
		collSingle, err := peak(coll, "/v1/events/AddToCartEvent", single)
		if err != nil {
			return fmt.Errorf("collector single: %w", err)
		}
		collBatch, err := peak(coll, "/v1/events", batch)
		if err != nil {
			return fmt.Errorf("collector batch: %w", err)
		}
		rate := collSingle.rps() / 2
		bareHalf, err := load(client, bare+"/", single, o, rate)
		if err != nil {
			return fmt.Errorf("bare at half peak: %w", err)
		}
		collHalf, err := load(client, coll+"/v1/events/AddToCartEvent", single, o, rate)
		if err != nil {
			return fmt.Errorf("collector at half peak: %w", err)
		}
		for i, r := range []result{bareSingle, collSingle, collBatch, bareHalf, collHalf} {
			rows[i] = append(rows[i], r)
		}
		rates = append(rates, rate)
		singleRatio = append(singleRatio, collSingle.rps()/bareSingle.rps())
		batchRatio = append(batchRatio, collBatch.rps()*float64(o.batch)/bareSingle.rps())
		p99Ratio = append(p99Ratio, float64(collHalf.quantile(0.99))/float64(max(bareHalf.quantile(0.99), time.Microsecond)))
		fmt.Fprintf(out, "round %d: single %.2f×, batch %.1f×, p99 at %.0f req/s %s vs bare %s (%.2f×)\n", round+1,
			singleRatio[round], batchRatio[round], rate, collHalf.quantile(0.99), bareHalf.quantile(0.99), p99Ratio[round])
	}

	met := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| phase (median of rounds) | server | requests/s | events/s | p50 | p99 | errors |")
	fmt.Fprintln(out, "|---|---|---:|---:|---:|---:|---:|")
	row := func(phase, server string, rs []result, events int) {
		var rps, p50, p99 []float64
		var errs int64
		for _, r := range rs {
			rps = append(rps, r.rps())
			p50 = append(p50, float64(r.quantile(0.50)))
			p99 = append(p99, float64(r.quantile(0.99)))
			errs += r.errors
		}
		fmt.Fprintf(out, "| %s | %s | %.0f | %.0f | %s | %s | %d |\n", phase, server, median(rps), median(rps)*float64(events),
			time.Duration(median(p50)).Round(time.Microsecond), time.Duration(median(p99)).Round(time.Microsecond), errs)
	}
	half := fmt.Sprintf("~%.0f req/s (half the collector's peak)", median(rates))
	row("peak, single event", "bare 204 handler", rows[0], 1)
	row("peak, single event", "collector", rows[1], 1)
	row(fmt.Sprintf("peak, NDJSON batch of %d", o.batch), "collector", rows[2], o.batch)
	row(half, "bare 204 handler", rows[3], 1)
	row(half, "collector", rows[4], 1)

	fmt.Fprintln(out)
	fmt.Fprintln(out, "| target | measured (median of rounds) | met |")
	fmt.Fprintln(out, "|---|---:|:---:|")
	fmt.Fprintf(out, "| single-event requests/s ≥ 0.75× bare | %.2f× | %s |\n", median(singleRatio), met(median(singleRatio) >= 0.75))
	fmt.Fprintf(out, "| batch events/s ≥ 10× bare requests/s | %.1f× | %s |\n", median(batchRatio), met(median(batchRatio) >= 10))
	fmt.Fprintf(out, "| p99 at half peak ≤ 2× bare p99 | %.2f× | %s |\n", median(p99Ratio), met(median(p99Ratio) <= 2))
	fmt.Fprintf(out, "| allocations per counted event | %.0f | %s |\n", counting, met(counting == 0))
	return nil
}

// median returns the median of xs.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// bareHandler reads the body and answers 204: the baseline.
func bareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
}

// meter adapts metrics.Metrics to collector.Meter, as esm serve does.
type meter struct{ m *metrics.Metrics }

func (m meter) Counter(eventType string) collector.Counter { return m.m.EventCounter(eventType) }
func (m meter) SchemaReload(err error, types int)          { m.m.SchemaReload(err, types) }

// collectorHandler builds the collector as esm serve mounts it, with
// Prometheus and DogStatsD (to a UDP sink it drains), and measures the
// allocations of counting one event.
func collectorHandler(schemas string) (http.Handler, func(), float64, error) {
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("dogstatsd sink: %w", err)
	}
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, err := sink.Read(buf); err != nil {
				return
			}
		}
	}()
	m, err := metrics.New(metrics.Options{Env: "prod", StatsdAddr: sink.LocalAddr().String()})
	if err != nil {
		sink.Close()
		return nil, nil, 0, err
	}
	reg, err := collector.NewRegistry(schemas, meter{m}, slog.New(slog.DiscardHandler))
	if err != nil {
		m.Close()
		sink.Close()
		return nil, nil, 0, err
	}
	r := chi.NewRouter()
	r.Use(metrics.NewObserver(m.Registry()).Middleware) // esm serve counts and times every request
	r.Method(http.MethodGet, "/metrics", m.Handler())
	collector.New(reg, collector.Options{}).Routes(r)

	c := m.EventCounter("AddToCartEvent")
	allocs := testing.AllocsPerRun(10000, func() { c.Received(1) })
	return r, func() { m.Close(); sink.Close() }, allocs, nil
}

// target returns the base URL of addr, or of h served on 127.0.0.1:0.
func target(addr string, h http.Handler) (string, func(), error) {
	if addr != "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return "", nil, fmt.Errorf("address %q: %w", addr, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", nil, fmt.Errorf("address %q: only loopback addresses are load-tested", addr)
		}
		return "http://" + addr, func() {}, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Shutdown(context.Background()) }, nil
}

// newClient keeps one connection per worker.
func newClient(conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns * 2
	t.MaxIdleConnsPerHost = conns * 2
	t.MaxConnsPerHost = conns
	t.DisableCompression = true
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// result is one phase's outcome.
type result struct {
	elapsed   time.Duration
	requests  int64
	errors    int64
	latencies []time.Duration // sorted
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(q * float64(len(r.latencies)-1))
	return r.latencies[i].Round(time.Microsecond)
}

// load POSTs body to url from o.conns workers for o.duration: as fast as
// they can when rate is 0 (closed loop), otherwise at rate requests/s on a
// fixed schedule (open loop, latency counted from the scheduled time so
// that a slow server is not excused by sending less).
func load(client *http.Client, url string, body []byte, o options, rate float64) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	var sent atomic.Int64
	var ticks chan time.Time
	if rate > 0 {
		ticks = make(chan time.Time, o.conns)
		go schedule(ctx, ticks, rate)
	}
	var (
		mu    sync.Mutex
		all   []time.Duration
		nerrs int64
		first error
	)
	start := time.Now()
	var wg sync.WaitGroup
	for range o.conns {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			var errs int64
			var firstErr error
			for sent.Add(1) <= o.maxRequests {
				t0 := time.Now()
				if ticks != nil {
					select {
					case t0 = <-ticks:
					case <-ctx.Done():
						goto done
					}
				} else if ctx.Err() != nil {
					break
				}
				if err := post(ctx, client, url, body); err != nil {
					if ctx.Err() != nil {
						break
					}
					errs++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
		done:
			mu.Lock()
			all = append(all, lat...)
			nerrs += errs
			if first == nil {
				first = firstErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(all)
	r := result{elapsed: elapsed, requests: int64(len(all)), errors: nerrs, latencies: all}
	if len(all) == 0 && first != nil {
		return r, first
	}
	return r, nil
}

// schedule sends the start times of a fixed-rate load.
func schedule(ctx context.Context, ticks chan<- time.Time, rate float64) {
	interval := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	for {
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
		}
		select {
		case ticks <- next:
		case <-ctx.Done():
			return
		}
	}
}

// post sends one request and checks for a 2xx answer.
func post(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ct := "application/json"
	if strings.HasSuffix(url, "/v1/events") {
		ct = "application/x-ndjson"
	}
	req.Header.Set("Content-Type", ct)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}
