package metrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMiddlewareByRoutePattern(t *testing.T) {
	reg := prometheus.NewRegistry()
	o := NewObserver(reg)
	r := chi.NewRouter()
	r.Use(o.Middleware)
	r.Post("/v1/events/{type}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	for _, path := range []string{"/v1/events/A", "/v1/events/B", "/v1/events/C"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, path, nil))
	}
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/nope", nil))

	assert.Equal(t, 3.0, testutil.ToFloat64(o.requests.WithLabelValues("/v1/events/{type}", "POST", "202")))
	assert.Equal(t, 1.0, testutil.ToFloat64(o.requests.WithLabelValues("/healthz", "GET", "200")))
	assert.Equal(t, 1.0, testutil.ToFloat64(o.requests.WithLabelValues("unmatched", "GET", "404")))
	n, err := testutil.GatherAndCount(reg, HTTPRequestsName)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "one series per route, not per event type")
	n, err = testutil.GatherAndCount(reg, HTTPDurationName)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
}

func TestBotRun(t *testing.T) {
	o := NewObserver(prometheus.NewRegistry())
	o.BotRun("register", "prod", "success", 2*time.Second)
	o.BotRun("register", "prod", "success", time.Second)
	assert.Equal(t, 2.0, testutil.ToFloat64(o.runs.WithLabelValues("register", "prod", "success")))
}

type fakeRT struct {
	code int
	err  error
}

func (f fakeRT) RoundTrip(*http.Request) (*http.Response, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &http.Response{StatusCode: f.code, Body: http.NoBody}, nil
}

func TestTransport(t *testing.T) {
	o := NewObserver(prometheus.NewRegistry())
	c := &http.Client{Transport: o.Transport("datadog", fakeRT{code: 429})}
	_, err := c.Get("http://127.0.0.1/api/v1/monitor/12345")
	require.NoError(t, err)
	c = &http.Client{Transport: o.Transport("github", fakeRT{err: errors.New("refused")})}
	_, err = c.Get("http://127.0.0.1/repos/acme/shop/contents/schemas/cart.avdl?ref=abc")
	require.Error(t, err)
	assert.Equal(t, 1.0, testutil.ToFloat64(o.apiCalls.WithLabelValues("datadog", "GET /api/v1/monitor/{id}", "429")))
	assert.Equal(t, 1.0, testutil.ToFloat64(o.apiCalls.WithLabelValues("github", "GET /repos/{owner}/{repo}/contents/{path}", "0")))
}

func TestOperation(t *testing.T) {
	tests := map[string]string{
		"/api/v1/monitor":                                "GET /api/v1/monitor",
		"/api/v1/monitor/98765":                          "GET /api/v1/monitor/{id}",
		"/repos/o/r/pulls/12/files":                      "GET /repos/{owner}/{repo}/pulls/{id}/files",
		"/repos/o/r/statuses/0123456789abcdef0123456789": "GET /repos/{owner}/{repo}/statuses/{id}",
		"/api/v3/repos/o/r/issues/comments/55":           "GET /repos/{owner}/{repo}/issues/comments/{id}",
		"/a/b/c/d/e/f/g/h/i":                             "GET /{name}/{name}/{name}/{name}/{name}/{name}/{name}/{name}/...",
		"/a/b/c/d/e/f/g/h":                               "GET /{name}/{name}/{name}/{name}/{name}/{name}/{name}/{name}",
		"/repos/o/r/collaborators/alice/permission":      "GET /repos/{owner}/{repo}/collaborators/{name}/permission",
		"/repos/o/r/issues/comments/55/reactions":        "GET /repos/{owner}/{repo}/issues/comments/{id}/reactions",
		"/app/installations/42/access_tokens":            "GET /app/installations/{id}/access_tokens",
		"/repos/o/r/installation":                        "GET /repos/{owner}/{repo}/installation",
		"/api/v1/validate":                               "GET /api/v1/validate",
		"/user":                                          "GET /user",
	}
	for path, want := range tests {
		assert.Equal(t, want, Operation("GET", path), path)
	}
	assert.False(t, strings.Contains(Operation("GET", "/repos/o/r/contents/a/b/c.avdl"), "c.avdl"))
}

// TestLabelsFromFixedSets sends invented methods, paths, status codes,
// API paths, commands and outcomes through every Observer metric: once
// each fixed value has been seen, 10,000 more add no series. Before,
// methods, unnamed status codes, logins in API paths and bot labels were
// label values as they came.
func TestLabelsFromFixedSets(t *testing.T) {
	reg := prometheus.NewRegistry()
	o := NewObserver(reg)
	r := chi.NewRouter()
	r.Use(o.Middleware)
	r.Post("/v1/events/{type}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(chi.URLParam(r, "type"))
		w.WriteHeader(code) // a handler writing any status code
	})
	send := func(i int) {
		switch i % 5 {
		case 0:
			r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("M"+strconv.Itoa(i), "/v1/events/202", nil))
		case 1:
			r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x/"+strconv.Itoa(i), nil))
		case 2:
			r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/v1/events/"+strconv.Itoa(600+i%400), nil))
		case 3:
			c := &http.Client{Transport: o.Transport("github", fakeRT{code: 600 + i%400})}
			resp, err := c.Get("http://127.0.0.1/repos/o" + strconv.Itoa(i) + "/r/collaborators/user-" + strconv.Itoa(i) + "/permission")
			require.NoError(t, err)
			resp.Body.Close()
		case 4:
			o.BotRun("cmd"+strconv.Itoa(i), "prod", "outcome"+strconv.Itoa(i), time.Second)
		}
	}
	for i := range 5 {
		send(i)
	}
	before, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	for i := 5; i < 10_005; i++ {
		send(i)
	}
	after, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	assert.Equal(t, before, after, "invented values added series")

	assert.Equal(t, 2001.0, testutil.ToFloat64(o.requests.WithLabelValues("unmatched", OtherLabel, "405")), "chi refuses an invented method before routing")
	assert.Equal(t, 2001.0, testutil.ToFloat64(o.requests.WithLabelValues("/v1/events/{type}", "POST", OtherLabel)))
	assert.Equal(t, 2001.0, testutil.ToFloat64(o.requests.WithLabelValues("unmatched", "GET", "404")))
	assert.Equal(t, 2001.0, testutil.ToFloat64(o.apiCalls.WithLabelValues("github",
		"GET /repos/{owner}/{repo}/collaborators/{name}/permission", OtherLabel)))
	assert.Equal(t, 2001.0, testutil.ToFloat64(o.runs.WithLabelValues(OtherLabel, "prod", OtherLabel)))
}

func TestLabelValues(t *testing.T) {
	for code, want := range map[int]string{200: "200", 201: "201", 418: "418", 429: "429", 599: OtherLabel, 299: OtherLabel, 999: OtherLabel} {
		assert.Equal(t, want, codeLabel(code), code)
	}
	for method, want := range map[string]string{"GET": "GET", "PATCH": "PATCH", "OPTIONS": "OPTIONS", "get": OtherLabel, "M1": OtherLabel, "": OtherLabel} {
		assert.Equal(t, want, methodLabel(method), method)
	}
	assert.Equal(t, "other /api/v1/monitor", Operation("PURGE", "/api/v1/monitor"))
}
