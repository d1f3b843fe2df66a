// Package ddtest is an in-memory fake of Datadog's v1 monitor API, for
// tests that drive the real datadog-api-client-go (or esm's binary) over
// HTTP. It answers like api.datadoghq.com as recorded in
// ../shared/fixtures/datadog (the client's cassettes and the Terraform
// provider's): the same paths, status codes, error bodies and the way
// Datadog normalises what it stores.
//
// A test starts a server and points the code under test at its URL:
//
//	s := ddtest.NewServer(t)
//	store, err := datadog.New(datadog.Config{APIKey: "k", AppKey: "a", URL: s.URL})
//	...
//	require.Len(t, s.Monitors(), 1)
//
// # What it implements
//
//   - GET /api/v1/monitor (ListMonitors) with monitor_tags (comma-separated,
//     all must match), tags (scope tags of the query), name (case-insensitive
//     substring, like Datadog), id_offset, group_states, page (0-based) and
//     page_size (default 100 with page, at most 1000; without page every
//     monitor is returned);
//   - GET, PUT and DELETE /api/v1/monitor/{id}, POST /api/v1/monitor,
//     POST /api/v1/monitor/validate, POST /api/v1/monitor/{id}/validate and
//     GET /api/v1/validate.
//
// Every request needs the DD-API-KEY and DD-APPLICATION-KEY headers (any
// value, or the ones given to WithKeys); without them the answer is 403 with
// Datadog's body. Monitors are stored as Datadog stores them: ids are
// assigned, tags normalised (lowercase; characters other than letters,
// digits and _ - : . / become one underscore; no leading non-letter, no
// trailing underscore, at most 200 characters), "metric alert" becomes
// "query alert", thresholds come back as floats (1.0), the option defaults Datadog adds are
// added (notify_audit, include_tags, new_host_delay, notify_no_data,
// silenced), no_data_timeframe is dropped while notify_no_data is off,
// created and modified are set, overall_state is "No Data" and priority is
// null when unset. PUT changes the top-level fields it carries and replaces
// options as a whole (Scenario_Edit_a_monitor_returns_OK_response).
//
// Bad input gets the 400 bodies of the recordings ("The parameter 'type' is
// required", "The value provided for parameter 'query' is invalid: invalid
// operator specified: ", "Monitor type change not allowed"); an unknown id
// gets 404 {"errors":["Monitor not found"]}.
//
// # Faults
//
// WithLatency delays every answer; FailNext and FailNextOn answer the next
// requests with a status and headers of the test's choosing (429 with
// RateLimit headers, 500, 503 ...); FailAfterCreate stores the next created
// monitors but answers 500, as a Datadog that failed after the write would,
// so that tests can check that a retried create leaves no duplicate.
//
// # Inspection
//
// Monitors returns a copy of what is stored; Requests lists every request
// (method, path, query and the status answered) so that tests can count
// calls; Seed preloads monitors, such as an unmanaged one without esm tags;
// EditMonitor changes a stored monitor through the API as Datadog's UI
// does (read it, change fields, save the whole of it back).
package ddtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running fake of Datadog's monitor API. Its methods are safe
// for concurrent use.
type Server struct {
	// URL is the server's base URL, such as http://127.0.0.1:41234: the
	// store's URL setting (ESM_DATADOG_URL).
	URL string

	srv *httptest.Server
	mux *http.ServeMux

	mu           sync.Mutex
	monitors     map[int64]*Monitor
	nextID       int64
	requests     []Request
	faults       []*fault
	createFaults int
	latency      time.Duration
	apiKey       string
	appKey       string
	now          func() time.Time
}

// Option configures a Server.
type Option func(*Server)

// WithLatency delays every answer by d (a request whose context ends
// first gets no answer), to measure concurrency.
func WithLatency(d time.Duration) Option {
	return func(s *Server) { s.latency = d }
}

// WithKeys makes the server accept only these API and application keys;
// by default any non-empty keys are accepted.
func WithKeys(apiKey, appKey string) Option {
	return func(s *Server) { s.apiKey, s.appKey = apiKey, appKey }
}

// FailNext makes the server answer the next n requests, whatever they are,
// with status, header and a Datadog error body; see Server.FailNext.
func FailNext(n, status int, header http.Header) Option {
	return func(s *Server) { s.FailNext(n, status, header) }
}

// FailAfterCreate makes the next n monitor creations store the monitor
// and answer 500; see Server.FailAfterCreate.
func FailAfterCreate(n int) Option {
	return func(s *Server) { s.FailAfterCreate(n) }
}

// WithMonitors preloads monitors; see Server.Seed.
func WithMonitors(ms ...Monitor) Option {
	return func(s *Server) { s.Seed(ms...) }
}

// firstID is the id of the first monitor created; large enough not to be
// confused with counts or page numbers in a failing test's output.
const firstID = 1001

// NewServer starts a fake Datadog on 127.0.0.1 and stops it when the test
// ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		monitors: make(map[int64]*Monitor),
		nextID:   firstID,
		now:      func() time.Time { return time.Now().UTC() },
	}
	s.routes()
	for _, o := range opts {
		o(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ddtest: listen: %v", err)
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server. It is called when the test ends; calling it
// earlier simulates Datadog going away.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Request is one request the server received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	// Body is the request's body (JSON for POST and PUT).
	Body []byte
	// Status is the status answered; 0 when the client went away first.
	Status int
}

// String returns the request as "GET /api/v1/monitor?page=0&page_size=1000".
func (r Request) String() string {
	s := r.Method + " " + r.Path
	if len(r.Query) > 0 {
		s += "?" + r.Query.Encode()
	}
	return s
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Query = cloneValues(r.Query)
		r.Body = append([]byte(nil), r.Body...)
		out[i] = r
	}
	return out
}

// CountRequests returns how many requests had the method and path; an
// empty method or path matches any.
func (s *Server) CountRequests(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if (method == "" || r.Method == method) && (path == "" || r.Path == path) {
			n++
		}
	}
	return n
}

// ResetRequests forgets the requests received so far, for a test or
// benchmark that counts the calls of one step.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// RateLimit describes Datadog's rate-limit headers.
type RateLimit struct {
	Name      string // e.g. post_monitors
	Limit     int    // requests allowed per period
	Period    int    // seconds
	Remaining int    // requests left in this period
	Reset     int    // seconds until the period resets
}

// Header returns the X-RateLimit-* headers Datadog sends, for FailNext.
func (rl RateLimit) Header() http.Header {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", strconv.Itoa(rl.Limit))
	h.Set("X-RateLimit-Period", strconv.Itoa(rl.Period))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(rl.Remaining))
	h.Set("X-RateLimit-Reset", strconv.Itoa(rl.Reset))
	if rl.Name != "" {
		h.Set("X-RateLimit-Name", rl.Name)
	}
	return h
}

type fault struct {
	method, path string // empty matches any
	remaining    int
	status       int
	header       http.Header
}

// FailNext makes the server answer the next n requests that pass the key
// check with status, the given headers and a body {"errors":["<status
// text>"]}, without acting on them. Faults queue up in the order given.
func (s *Server) FailNext(n, status int, header http.Header) {
	s.FailNextOn("", "", n, status, header)
}

// FailNextOn is FailNext for the requests with that method and path only
// (an empty method or path matches any), such as the next two
// "POST /api/v1/monitor".
func (s *Server) FailNextOn(method, path string, n, status int, header http.Header) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, path: path, remaining: n, status: status, header: header.Clone()})
}

// FailAfterCreate makes the next n successful POST /api/v1/monitor store
// the monitor and then answer 500, so that the client cannot know the
// monitor exists.
func (s *Server) FailAfterCreate(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.createFaults += n
}

// takeFault returns the first queued fault that matches r, counting it
// down, or nil.
func (s *Server) takeFault(r *http.Request) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.method != "" && f.method != r.Method) || (f.path != "" && f.path != r.URL.Path) {
			continue
		}
		f.remaining--
		if f.remaining == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}

// Seed stores monitors as if they had been created through the API, but
// without validating them, and returns their ids. A zero ID is assigned;
// a zero Created is now. Seeded monitors are normalised like created ones.
func (s *Server) Seed(ms ...Monitor) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, len(ms))
	for i, m := range ms {
		m = m.clone()
		if m.ID == 0 {
			m.ID = s.nextID
		}
		if m.ID >= s.nextID {
			s.nextID = m.ID + 1
		}
		if m.Created.IsZero() {
			m.Created = s.now()
		}
		if m.Modified.IsZero() {
			m.Modified = m.Created
		}
		normalise(&m)
		s.monitors[m.ID] = &m
		ids[i] = m.ID
	}
	return ids
}

// Monitors returns a copy of the stored monitors, ordered by id.
func (s *Server) Monitors() []Monitor {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Monitor, 0, len(s.monitors))
	for _, m := range s.monitors {
		out = append(out, m.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Monitor returns a copy of the monitor with the id.
func (s *Server) Monitor(id int64) (Monitor, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.monitors[id]
	if !ok {
		return Monitor{}, false
	}
	return m.clone(), true
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// serve records the request, waits the latency, checks the keys, injects
// faults and hands the request to the API's routes.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, "ddtest: read request body: "+err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	idx := len(s.requests)
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body})
	latency := s.latency
	s.mu.Unlock()

	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		if idx < len(s.requests) {
			s.requests[idx].Status = sw.status
		}
		s.mu.Unlock()
	}()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if !s.authorized(r) {
		writeRaw(sw, http.StatusForbidden, forbiddenBody)
		return
	}
	if f := s.takeFault(r); f != nil {
		for k, vs := range f.header {
			for _, v := range vs {
				sw.Header().Add(k, v)
			}
		}
		writeErrors(sw, f.status, http.StatusText(f.status))
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// forbiddenBody is Datadog's answer to a request with missing or wrong
// keys (TestMonitorsCreateErrors/403_Forbidden).
const forbiddenBody = `{"status":"error","code":403,"errors":["Forbidden"],"statuspage":"http://status.datadoghq.com","twitter":"http://twitter.com/datadogops","email":"support@datadoghq.com"}`

func (s *Server) authorized(r *http.Request) bool {
	api := r.Header.Get("DD-API-KEY")
	if api == "" || (s.apiKey != "" && api != s.apiKey) {
		return false
	}
	if r.URL.Path == "/api/v1/validate" {
		return true // validating the API key needs no application key
	}
	app := r.Header.Get("DD-APPLICATION-KEY")
	return app != "" && (s.appKey == "" || app == s.appKey)
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// writeErrors writes Datadog's error body {"errors": [...]}.
func writeErrors(w http.ResponseWriter, status int, msgs ...string) {
	writeJSON(w, status, map[string][]string{"errors": msgs})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeErrors(w, http.StatusInternalServerError, "ddtest: encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// lowerAll returns the lowercase, trimmed, non-empty items of a
// comma-separated list.
func lowerAll(list string) []string {
	var out []string
	for _, p := range strings.Split(list, ",") {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			out = append(out, p)
		}
	}
	return out
}
