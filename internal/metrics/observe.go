package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// Observer holds esm's own RED metrics: HTTP requests per route, bot runs
// and calls to the Datadog and GitHub APIs. The names are a contract with
// deploy/prometheus/esm-rules.yaml and the dashboard.
type Observer struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	runs     *prometheus.CounterVec
	runTime  *prometheus.HistogramVec
	apiCalls *prometheus.CounterVec
}

// Names of the Observer's metrics.
const (
	HTTPRequestsName      = "esm_http_requests_total"
	HTTPDurationName      = "esm_http_request_duration_seconds"
	BotRunsName           = "esm_bot_runs_total"
	BotRunDurationName    = "esm_bot_run_duration_seconds"
	APICallsName          = "esm_api_calls_total"
	unmatchedRoute        = "unmatched"
	maxOperationPathParts = 6
)

// NewObserver registers the metrics with reg.
func NewObserver(reg prometheus.Registerer) *Observer {
	o := &Observer{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: HTTPRequestsName,
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    HTTPDurationName,
			Help:    "Time to serve an HTTP request, by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: BotRunsName,
			Help: "Bot runs, by command (plan, register), environment and outcome (success, failure, denied, error).",
		}, []string{"command", "env", "outcome"}),
		runTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    BotRunDurationName,
			Help:    "Duration of bot runs, by command and environment.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"command", "env"}),
		apiCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: APICallsName,
			Help: "Calls to the Datadog and GitHub APIs, by service, operation (method and path template) and status code (0 for transport errors).",
		}, []string{"service", "operation", "code"}),
	}
	reg.MustRegister(o.requests, o.duration, o.runs, o.runTime, o.apiCalls)
	return o
}

// statusWriter records the status code a handler writes.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// codeLabel avoids formatting the common status codes per request.
func codeLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 202:
		return "202"
	case 204:
		return "204"
	case 400:
		return "400"
	case 401:
		return "401"
	case 404:
		return "404"
	case 413:
		return "413"
	case 500:
		return "500"
	case 503:
		return "503"
	}
	return strconv.Itoa(code)
}

// Middleware counts and times every request by its chi route pattern (so
// a path with an event type in it is one series, never one per value).
func (o *Observer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := unmatchedRoute
		if rc := chi.RouteContext(r.Context()); rc != nil {
			if p := rc.RoutePattern(); p != "" {
				route = p
			}
		}
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		o.requests.WithLabelValues(route, r.Method, codeLabel(code)).Inc()
		o.duration.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
	})
}

// BotRun records one bot run.
func (o *Observer) BotRun(command, env, outcome string, d time.Duration) {
	o.runs.WithLabelValues(command, env, outcome).Inc()
	o.runTime.WithLabelValues(command, env).Observe(d.Seconds())
}

// Transport wraps rt so that every call to service ("datadog", "github")
// is counted by operation and status code.
func (o *Observer) Transport(service string, rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return roundTripper{o: o, service: service, next: rt}
}

type roundTripper struct {
	o       *Observer
	service string
	next    http.RoundTripper
}

func (t roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	code := "0"
	if err == nil {
		code = codeLabel(resp.StatusCode)
	}
	t.o.apiCalls.WithLabelValues(t.service, Operation(r.Method, r.URL.Path), code).Inc()
	return resp, err
}

// Operation names an API call by its method and path template: segments
// that are numbers or look like IDs, SHAs or file paths become
// placeholders, so that the label's values stay few.
// "GET /api/v1/monitor/123" → "GET /api/v1/monitor/{id}";
// "GET /repos/o/r/contents/schemas/a.avdl" → "GET /repos/{owner}/{repo}/contents/{path}".
func Operation(method, path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) >= 2 && parts[0] == "api" && parts[1] == "v3" {
		parts = parts[2:] // GitHub Enterprise prefix
	}
	if len(parts) >= 3 && parts[0] == "repos" {
		parts[1], parts[2] = "{owner}", "{repo}"
		for i := 3; i < len(parts); i++ {
			if parts[i] == "contents" && i+1 < len(parts) {
				parts = append(parts[:i+1], "{path}")
				break
			}
		}
	}
	for i, p := range parts {
		if isID(p) {
			parts[i] = "{id}"
		}
	}
	if len(parts) > maxOperationPathParts {
		parts = append(parts[:maxOperationPathParts], "...")
	}
	return method + " /" + strings.Join(parts, "/")
}

func isID(s string) bool {
	if s == "" {
		return false
	}
	digits, hex := true, len(s) >= 7
	for _, c := range s {
		if c < '0' || c > '9' {
			digits = false
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			hex = false
		}
	}
	return digits || hex
}
