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
	maxOperationPathParts = 8
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

// OtherLabel is the value of a label whose value is outside its fixed
// set: an invented HTTP method, a status code net/http does not name, a
// command or outcome esm does not know.
const OtherLabel = "other"

// codeLabel is the label of a status code: the codes net/http names (as
// numbers, the common ones without formatting), OtherLabel for any other,
// so that neither a client nor an upstream API can add values.
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
	if http.StatusText(code) == "" {
		return OtherLabel
	}
	return strconv.Itoa(code)
}

// methodLabel is the label of an HTTP method: the standard methods,
// OtherLabel for any other (methods are case-sensitive, so "get" is
// another).
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return OtherLabel
}

// Middleware counts and times every request by its chi route pattern (so
// a path with an event type in it is one series, never one per value;
// "unmatched" for a path no route matches and a method chi refuses), its
// method (OtherLabel for methods outside the standard ones) and its
// status code: every label comes from a fixed set.
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
		method := methodLabel(r.Method)
		o.requests.WithLabelValues(route, method, codeLabel(code)).Inc()
		o.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	})
}

// BotRun records one bot run. command is plan, register or help (""
// for a denied comment that named none), outcome success, failure,
// denied or error; any other value is counted as OtherLabel. env comes
// from the configuration: the bot refuses a comment naming an
// environment it does not know before it runs anything.
func (o *Observer) BotRun(command, env, outcome string, d time.Duration) {
	command, outcome = oneOf(command, botCommands), oneOf(outcome, botOutcomes)
	o.runs.WithLabelValues(command, env, outcome).Inc()
	o.runTime.WithLabelValues(command, env).Observe(d.Seconds())
}

// The values of the command and outcome labels of the bot's runs.
var (
	botCommands = []string{"", "plan", "register", "help"}
	botOutcomes = []string{"success", "failure", "denied", "error"}
)

// oneOf returns v when it is one of values, else OtherLabel.
func oneOf(v string, values []string) string {
	for _, w := range values {
		if v == w {
			return v
		}
	}
	return OtherLabel
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

// apiWords are the path segments of the Datadog and GitHub API calls esm
// makes that Operation keeps as they are; any other segment is a value
// (a number, a SHA, a login, a name) and becomes a placeholder.
var apiWords = map[string]bool{
	// Datadog.
	"api": true, "v1": true, "v2": true, "monitor": true, "validate": true, "events": true, "search": true,
	// GitHub.
	"user": true, "users": true, "app": true, "apps": true, "installation": true, "installations": true,
	"access_tokens": true, "repos": true, "pulls": true, "files": true, "reviews": true, "contents": true,
	"issues": true, "comments": true, "reactions": true, "statuses": true, "status": true, "commits": true,
	"collaborators": true, "permission": true, "git": true, "refs": true, "trees": true, "blobs": true,
}

// Operation names an API call by its method and path template, so that
// the label's values come from a fixed set: the owner and repository
// become {owner} and {repo}, a file path {path}, numbers and SHAs {id},
// any other segment that is not a word of the APIs esm calls {name}, and
// a method outside the standard ones OtherLabel.
// "GET /api/v1/monitor/123" → "GET /api/v1/monitor/{id}";
// "GET /repos/o/r/contents/schemas/a.avdl" → "GET /repos/{owner}/{repo}/contents/{path}";
// "GET /repos/o/r/collaborators/alice/permission" → "GET /repos/{owner}/{repo}/collaborators/{name}/permission".
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
		switch {
		case p == "" || apiWords[p] || p == "{owner}" || p == "{repo}" || p == "{path}":
		case isID(p):
			parts[i] = "{id}"
		default:
			parts[i] = "{name}"
		}
	}
	if len(parts) > maxOperationPathParts {
		parts = append(parts[:maxOperationPathParts], "...")
	}
	return methodLabel(method) + " /" + strings.Join(parts, "/")
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
