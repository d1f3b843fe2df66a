package datadog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/datadog/ddtest"
	"github.com/esm-dev/esm/internal/monitor"
)

// newStore returns a Store on the fake with fast retries.
func newStore(t testing.TB, s *ddtest.Server, configure ...func(*Config)) *Store {
	t.Helper()
	cfg := Config{APIKey: "api-key", AppKey: "app-key", URL: s.URL, RetryWait: time.Millisecond, MaxRetryWait: 2 * time.Second}
	for _, c := range configure {
		c(&cfg)
	}
	st, err := New(cfg)
	require.NoError(t, err)
	return st
}

// anomaly returns the monitor esm makes for a record, in env prod.
func anomaly(record string) *monitor.Monitor {
	return &monitor.Monitor{Definition: monitor.Definition{
		Name: "Traffic Anomaly with " + record,
		Type: "query alert",
		Query: "avg(last_4h):anomalies(sum:esm.events.received{event_type:" + record + ",env:prod}.as_count(), 'agile', 2, " +
			"direction='both', alert_window='last_15m', interval=60, count_default_zero='true', seasonality='weekly') >= 1",
		Message: "Traffic of " + record + " is unusual. @slack-team-cart",
		Tags:    []string{"esm-prod", "esm_record:shop." + strings.ToLower(record), "esm_file:schemas/shop.avdl"},
		Options: monitor.Options{
			Thresholds:       monitor.Thresholds{Critical: monitor.Float(1), CriticalRecovery: monitor.Float(0)},
			ThresholdWindows: &monitor.ThresholdWindows{TriggerWindow: "last_15m", RecoveryWindow: "last_15m"},
			IncludeTags:      true,
		},
	}}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		errs []string // substrings; none means valid
	}{
		{"url", Config{APIKey: "k", AppKey: "a", URL: "http://127.0.0.1:8126"}, nil},
		{"url with path", Config{APIKey: "k", AppKey: "a", URL: "https://proxy.example.com/datadog/"}, nil},
		{"site", Config{APIKey: "k", AppKey: "a", Site: "datadoghq.eu"}, nil},
		{"default site", Config{APIKey: "k", AppKey: "a"}, nil},
		{"url overrides an unknown site", Config{APIKey: "k", AppKey: "a", Site: "example.com", URL: "http://127.0.0.1:1"}, nil},
		{"no keys", Config{URL: "http://127.0.0.1:8126"}, []string{"API key is required (DD_API_KEY)", "application key is required (DD_APP_KEY)"}},
		{"no scheme", Config{APIKey: "k", AppKey: "a", URL: "127.0.0.1:8126"}, []string{"want an absolute http or https URL"}},
		{"host as scheme", Config{APIKey: "k", AppKey: "a", URL: "localhost:8126"}, []string{`URL "localhost:8126": want an absolute http or https URL`}},
		{"bad url", Config{APIKey: "k", AppKey: "a", URL: "http://[::1"}, []string{`URL "http://[::1"`}},
		{"url with query", Config{APIKey: "k", AppKey: "a", URL: "http://h/?x=1"}, []string{"no query"}},
		{"unknown site", Config{APIKey: "k", AppKey: "a", Site: "example.com"}, []string{`site "example.com"`}},
		{"page size", Config{APIKey: "k", AppKey: "a", PageSize: 5000}, []string{"page size 5000 is not between 1 and 1000"}},
		{"every problem", Config{URL: "ftp://x", PageSize: -1}, []string{"API key", "application key", "page size", "ftp://x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := New(tc.cfg)
			if tc.errs == nil {
				require.NoError(t, err)
				require.NotNil(t, st)
				return
			}
			require.Error(t, err)
			for _, e := range tc.errs {
				assert.Contains(t, err.Error(), e)
			}
		})
	}
}

// TestRoundTrip creates, lists, updates and deletes monitors through the
// real client, and checks that what List returns equals what was sent once
// both are normalised the way the plan compares them.
func TestRoundTrip(t *testing.T) {
	full := anomaly("Checkout")
	full.Priority = 2
	full.Options.Thresholds.Warning = monitor.Float(0.5)
	full.Options.Thresholds.WarningRecovery = monitor.Float(0.25)
	full.Options.NotifyNoData = true
	full.Options.NoDataTimeframe = 30
	full.Options.RenotifyInterval = 60
	full.Options.EvaluationDelay = 120
	full.Options.NewGroupDelay = 300
	full.Options.RequireFullWindow = true
	full.Options.NotifyAudit = true
	full.Options.EscalationMessage = "still unusual @pagerduty-cart"
	full.Options.TimeoutH = 4

	bare := anomaly("Cart")
	bare.Tags = []string{"ESM-Prod", "Team:Cart"} // Datadog lowercases tags
	bare.Options.ThresholdWindows = nil
	bare.Options.IncludeTags = false
	bare.Options.NoDataTimeframe = 20 // dropped: notify_no_data is off

	metric := anomaly("Search")
	metric.Type = "metric alert" // stored as query alert
	metric.Query = "avg(last_5m):sum:esm.events.received{event_type:Search}.as_count() > 100"
	metric.Options.Thresholds = monitor.Thresholds{Critical: monitor.Float(100)}
	metric.Options.ThresholdWindows = nil

	for _, tc := range []struct {
		name string
		m    *monitor.Monitor
	}{{"every option", full}, {"few options", bare}, {"metric alert", metric}} {
		t.Run(tc.name, func(t *testing.T) {
			s := ddtest.NewServer(t)
			st := newStore(t, s)
			ctx := context.Background()

			id, err := st.Create(ctx, tc.m)
			require.NoError(t, err)
			require.NotZero(t, id)

			got, err := st.List(ctx, "esm-prod")
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, id, got[0].ID)
			assert.Equal(t, monitor.Fields(&tc.m.Definition), monitor.Fields(&got[0].Definition))

			changed := *tc.m
			changed.Query = strings.Replace(changed.Query, "'agile', 2", "'agile', 3", 1)
			changed.Message = "changed"
			changed.Priority = 0
			changed.Options.RenotifyInterval = 0
			changed.Options.EscalationMessage = ""
			require.NoError(t, st.Update(ctx, id, &changed))

			got, err = st.List(ctx, "esm-prod")
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, monitor.Fields(&changed.Definition), monitor.Fields(&got[0].Definition))

			require.NoError(t, st.Delete(ctx, id))
			got, err = st.List(ctx, "esm-prod")
			require.NoError(t, err)
			assert.Empty(t, got)
		})
	}
}

// TestRequestBodies checks the JSON the client sends: optional fields left
// out of a create, and an update that carries priority null and the whole
// options.
func TestRequestBodies(t *testing.T) {
	s := ddtest.NewServer(t)
	st := newStore(t, s)
	ctx := context.Background()
	m := anomaly("Cart")
	m.Options.NoDataTimeframe = 20 // without notify_no_data: not sent
	id, err := st.Create(ctx, m)
	require.NoError(t, err)
	require.NoError(t, st.Update(ctx, id, m))

	reqs := writes(s)
	require.Len(t, reqs, 2)
	assert.Equal(t, "POST", reqs[0].Method)
	created := `{
		"name": "Traffic Anomaly with Cart", "type": "query alert", "query": ` + jsonString(m.Query) + `,
		"message": "Traffic of Cart is unusual. @slack-team-cart",
		"tags": ["esm-prod", "esm_record:shop.cart", "esm_file:schemas/shop.avdl"],
		"options": {
			"thresholds": {"critical": 1, "critical_recovery": 0},
			"threshold_windows": {"trigger_window": "last_15m", "recovery_window": "last_15m"},
			"notify_no_data": false, "evaluation_delay": 0, "include_tags": true,
			"require_full_window": false, "notify_audit": false
		}
	}`
	assert.JSONEq(t, created, string(reqs[0].Body))

	assert.Equal(t, "PUT", reqs[1].Method)
	assert.Equal(t, fmt.Sprintf("/api/v1/monitor/%d", id), reqs[1].Path)
	var updated map[string]any
	require.NoError(t, json.Unmarshal(reqs[1].Body, &updated))
	require.Contains(t, updated, "priority", "a PUT keeps fields it does not carry: no priority is sent as null")
	assert.Nil(t, updated["priority"])
	delete(updated, "priority")
	assert.JSONEq(t, created, jsonString(updated), "an update carries every owned field and the whole options")
}

// writes returns the requests other than list calls (the look-ups a
// create makes before and after it, among others).
func writes(s *ddtest.Server) []ddtest.Request {
	var out []ddtest.Request
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet || r.Path != "/api/v1/monitor" {
			out = append(out, r)
		}
	}
	return out
}

// calls returns the requests as "GET 200", "POST 500" ...
func calls(s *ddtest.Server) []string {
	var out []string
	for _, r := range s.Requests() {
		out = append(out, fmt.Sprintf("%s %d", r.Method, r.Status))
	}
	return out
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestUpdateReplacesOptions removes options and a threshold from the
// desired monitor and checks they are gone on the server, not merged.
func TestUpdateReplacesOptions(t *testing.T) {
	s := ddtest.NewServer(t)
	st := newStore(t, s)
	ctx := context.Background()
	m := anomaly("Cart")
	m.Priority = 1
	m.Options.Thresholds.Warning = monitor.Float(0.5)
	m.Options.RenotifyInterval = 30
	m.Options.EscalationMessage = "escalated"
	m.Options.TimeoutH = 2
	id, err := st.Create(ctx, m)
	require.NoError(t, err)
	// Someone adds an option by hand; esm does not own it, and Datadog's
	// whole-options replace drops it.
	stored, _ := s.Monitor(id)
	require.Equal(t, "escalated", stored.Options["escalation_message"])

	d := anomaly("Cart")
	d.Options.ThresholdWindows = nil
	require.NoError(t, st.Update(ctx, id, d))

	stored, ok := s.Monitor(id)
	require.True(t, ok)
	assert.Nil(t, stored.Priority)
	for _, gone := range []string{"renotify_interval", "escalation_message", "timeout_h", "threshold_windows"} {
		assert.NotContains(t, stored.Options, gone)
	}
	assert.Equal(t, map[string]any{"critical": 1.0, "critical_recovery": 0.0}, stored.Options["thresholds"])
}

func TestListOnlyTagged(t *testing.T) {
	s := ddtest.NewServer(t)
	st := newStore(t, s)
	managed := anomaly("Cart")
	s.Seed(
		ddtest.Monitor{Name: managed.Name, Type: "query alert", Query: managed.Query, Tags: []string{"team:cart"}}, // unmanaged, same name
		ddtest.Monitor{Name: managed.Name, Type: "query alert", Query: managed.Query, Tags: []string{"esm-staging"}},
		ddtest.Monitor{Name: "log monitor", Type: "log alert", Query: `logs("x").index("*").rollup("count").last("5m") > 1`, Tags: []string{"esm-prod"}},
		ddtest.Monitor{Name: "future monitor", Type: "quantum alert", Query: "q > 1", Tags: []string{"ESM-PROD"}},
	)
	id, err := st.Create(context.Background(), managed)
	require.NoError(t, err)

	got, err := st.List(context.Background(), "esm-prod")
	require.NoError(t, err)
	types := map[string]string{}
	for _, m := range got {
		assert.True(t, monitor.HasTag(m.Tags, "esm-prod"), m.Name)
		types[m.Name] = m.Type
		if m.Name == managed.Name {
			assert.Equal(t, id, m.ID)
		}
	}
	assert.Equal(t, map[string]string{managed.Name: "query alert", "log monitor": "log alert", "future monitor": "quantum alert"}, types,
		"monitors of other types, even unknown to the client, are returned")
}

func TestListPagination(t *testing.T) {
	for _, tc := range []struct {
		name      string
		monitors  int
		pageSize  int
		wantCalls int
	}{
		{"2500 in pages of 1000", 2500, 0, 3},
		{"exact multiple ends with an empty page", 2000, 1000, 3},
		{"2500 in pages of 500", 2500, 500, 6},
		{"none", 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ddtest.NewServer(t)
			seed := make([]ddtest.Monitor, 0, tc.monitors+10)
			for i := range tc.monitors {
				seed = append(seed, ddtest.Monitor{Name: fmt.Sprintf("m%d", i), Type: "query alert", Query: "avg(last_5m):x{*} > 1", Tags: []string{"esm-prod"}})
			}
			for i := range 10 {
				seed = append(seed, ddtest.Monitor{Name: fmt.Sprintf("other%d", i), Type: "query alert", Query: "avg(last_5m):x{*} > 1", Tags: []string{"esm-dev"}})
			}
			s.Seed(seed...)
			st := newStore(t, s, func(c *Config) { c.PageSize = tc.pageSize })

			got, err := st.List(context.Background(), "esm-prod")
			require.NoError(t, err)
			assert.Len(t, got, tc.monitors)
			reqs := s.Requests()
			assert.Len(t, reqs, tc.wantCalls)
			for i, r := range reqs {
				assert.Equal(t, fmt.Sprint(i), r.Query.Get("page"))
				assert.Equal(t, "esm-prod", r.Query.Get("monitor_tags"))
			}
		})
	}
}

// fullPages answers every list call with the same full page, as a server
// that ignores page would.
type fullPages struct{}

func (fullPages) RoundTrip(req *http.Request) (*http.Response, error) {
	body := `[{"id":1,"name":"a","type":"query alert","query":"q > 1","tags":["esm-prod"]},` +
		`{"id":2,"name":"b","type":"query alert","query":"q > 1","tags":["esm-prod"]}]`
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

func TestListPaginationMustAdvance(t *testing.T) {
	st, err := New(Config{APIKey: "k", AppKey: "a", PageSize: 2, HTTPClient: &http.Client{Transport: fullPages{}}})
	require.NoError(t, err)
	_, err = st.List(context.Background(), "esm-prod")
	require.EqualError(t, err, "list monitors: page 1 repeats earlier pages: pagination does not advance")
}

func TestRetryLogsWithoutKeys(t *testing.T) {
	s := ddtest.NewServer(t, ddtest.FailNext(1, http.StatusServiceUnavailable, nil))
	var log strings.Builder
	st := newStore(t, s, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&log, nil)) })
	_, err := st.List(context.Background(), "esm-prod")
	require.NoError(t, err)
	assert.Contains(t, log.String(), `msg="datadog: retrying" op=list attempt=1`)
	assert.Contains(t, log.String(), "503 Service Unavailable")
	assert.NotContains(t, log.String(), "api-key")
	assert.NotContains(t, log.String(), "app-key")
}

func TestDeleteGoneIsSuccess(t *testing.T) {
	s := ddtest.NewServer(t)
	st := newStore(t, s)
	require.NoError(t, st.Delete(context.Background(), 424242))
	assert.Equal(t, []int{http.StatusNotFound}, statuses(s))
}

func statuses(s *ddtest.Server) []int {
	var out []int
	for _, r := range s.Requests() {
		out = append(out, r.Status)
	}
	return out
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		run    func(st *Store) error
		keys   bool // the server wants other keys
		want   string
		status int
	}{
		{"invalid query", func(st *Store) error {
			m := anomaly("Cart")
			m.Query = "query"
			_, err := st.Create(ctx, m)
			return err
		}, false, "create monitor: datadog: 400 Bad Request: The value provided for parameter 'query' is invalid: invalid operator specified:", 400},
		{"missing type", func(st *Store) error {
			m := anomaly("Cart")
			m.Type = ""
			_, err := st.Create(ctx, m)
			return err
		}, false, "create monitor: datadog: 400 Bad Request: The parameter 'type' is required", 400},
		{"update of a gone monitor", func(st *Store) error {
			return st.Update(ctx, 1234, anomaly("Cart"))
		}, false, "update monitor: datadog: 404 Not Found: Monitor not found", 404},
		{"wrong keys", func(st *Store) error {
			_, err := st.List(ctx, "esm-prod")
			return err
		}, true, "list monitors: datadog: 403 Forbidden: check DD_API_KEY and DD_APP_KEY: both must belong to the organisation of this site (DD_SITE), and the application key needs the monitors_read scope (monitors_write to apply)", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []ddtest.Option
			if tc.keys {
				opts = append(opts, ddtest.WithKeys("other", "other"))
			}
			s := ddtest.NewServer(t, opts...)
			err := tc.run(newStore(t, s))
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			n := 0
			for _, r := range s.Requests() {
				if r.Status == tc.status {
					n++
				}
			}
			assert.Equal(t, 1, n, "client errors are not retried")
			assert.NotContains(t, err.Error(), "api-key")
		})
	}
}

func TestRetryRateLimit(t *testing.T) {
	s := ddtest.NewServer(t, ddtest.FailNext(1, http.StatusTooManyRequests,
		ddtest.RateLimit{Name: "get_monitors", Limit: 3000, Period: 10, Remaining: 0, Reset: 1}.Header()))
	st := newStore(t, s)
	start := time.Now()
	_, err := st.List(context.Background(), "esm-prod")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "waited for the rate-limit window to reset")
	assert.Equal(t, []int{429, 200}, statuses(s))
}

func TestRetryServerErrors(t *testing.T) {
	ctx := context.Background()
	for _, status := range []int{500, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			s := ddtest.NewServer(t)
			st := newStore(t, s)

			s.FailNextOn("POST", "/api/v1/monitor", 2, status, nil)
			id, err := st.Create(ctx, anomaly("Cart"))
			require.NoError(t, err)
			require.Len(t, s.Monitors(), 1)
			assert.Equal(t, id, s.Monitors()[0].ID)
			assert.Equal(t, 3, s.CountRequests("POST", "/api/v1/monitor"))
			assert.Equal(t, []string{"GET 200", "POST " + fmt.Sprint(status), "GET 200", "POST " + fmt.Sprint(status), "GET 200", "POST 200", "GET 200"}, calls(s),
				"looked for the monitor before the create, before each re-send and after")

			s.FailNext(2, status, nil)
			require.NoError(t, st.Update(ctx, id, anomaly("Cart")))
			s.FailNext(2, status, nil)
			require.NoError(t, st.Delete(ctx, id))
			assert.Empty(t, s.Monitors())
		})
	}
}

func TestRetryGivesUp(t *testing.T) {
	s := ddtest.NewServer(t, ddtest.FailNext(10, http.StatusServiceUnavailable, nil))
	st := newStore(t, s, func(c *Config) { c.MaxRetries = 2 })
	err := st.Delete(context.Background(), 1)
	require.Error(t, err)
	assert.Equal(t, "delete monitor: datadog: 503 Service Unavailable (gave up after 3 attempts)", err.Error())
	assert.Len(t, s.Requests(), 3)

	s = ddtest.NewServer(t, ddtest.FailNext(1, http.StatusServiceUnavailable, nil))
	st = newStore(t, s, func(c *Config) { c.MaxRetries = -1 })
	require.Error(t, st.Delete(context.Background(), 1), "negative MaxRetries: no retry")
}

func TestRetryHonoursContext(t *testing.T) {
	s := ddtest.NewServer(t, ddtest.FailNext(1, http.StatusTooManyRequests, ddtest.RateLimit{Reset: 60}.Header()))
	st := newStore(t, s, func(c *Config) { c.MaxRetryWait = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := st.List(ctx, "esm-prod")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "429 Too Many Requests")
	assert.Less(t, time.Since(start), 5*time.Second)
}

// TestCreateNoDuplicate fails creates after (or, for a lost answer, maybe
// after) the monitor was stored, and checks that the retry finds it instead
// of creating a second one.
func TestCreateNoDuplicate(t *testing.T) {
	ctx := context.Background()
	t.Run("500 after the write", func(t *testing.T) {
		s := ddtest.NewServer(t, ddtest.FailAfterCreate(1))
		st := newStore(t, s)
		id, err := st.Create(ctx, anomaly("Cart"))
		require.NoError(t, err)
		ms := s.Monitors()
		require.Len(t, ms, 1, "no duplicate")
		assert.Equal(t, ms[0].ID, id)
		assert.Equal(t, 1, s.CountRequests("POST", "/api/v1/monitor"))
		reqs := s.Requests()
		assert.Equal(t, []string{"GET 200", "POST 500", "GET 200"}, calls(s), "the look-up after the failure finds it: no re-send")
		assert.Equal(t, "Traffic Anomaly with Cart", reqs[2].Query.Get("name"))
		assert.Equal(t, "esm-prod", reqs[2].Query.Get("monitor_tags"))
	})
	t.Run("look-alikes are not taken for it", func(t *testing.T) {
		s := ddtest.NewServer(t)
		m := anomaly("Cart")
		lookalikes := s.Seed(
			ddtest.Monitor{Name: m.Name, Type: "query alert", Query: m.Query, Tags: []string{"team:cart"}},
			ddtest.Monitor{Name: m.Name, Type: "query alert", Query: m.Query, Tags: []string{"esm-staging"}},
			ddtest.Monitor{Name: m.Name + "Items", Type: "query alert", Query: m.Query, Tags: []string{"esm-prod"}},
		)
		s.FailNextOn("POST", "/api/v1/monitor", 1, http.StatusBadGateway, nil)
		st := newStore(t, s)
		id, err := st.Create(ctx, m)
		require.NoError(t, err)
		assert.NotContains(t, lookalikes, id)
		assert.Len(t, s.Monitors(), 4)
	})
	t.Run("lost answer", func(t *testing.T) {
		s := ddtest.NewServer(t)
		st := newStore(t, s, func(c *Config) { c.HTTPClient = &http.Client{Transport: &loseAnswers{n: 1}} })
		id, err := st.Create(ctx, anomaly("Cart"))
		require.NoError(t, err)
		require.Len(t, s.Monitors(), 1)
		assert.Equal(t, s.Monitors()[0].ID, id)
		assert.Equal(t, 1, s.CountRequests("POST", "/api/v1/monitor"))
	})
	t.Run("429 is not a write", func(t *testing.T) {
		s := ddtest.NewServer(t)
		s.FailNextOn("POST", "/api/v1/monitor", 1, http.StatusTooManyRequests, nil)
		st := newStore(t, s)
		_, err := st.Create(ctx, anomaly("Cart"))
		require.NoError(t, err)
		assert.Equal(t, []string{"GET 200", "POST 429", "POST 200", "GET 200"}, calls(s), "no look-up after a refused create, only before and after")
		assert.Len(t, s.Monitors(), 1)
	})
}

// loseAnswers sends the first n POSTs and then reports a transport error,
// as a connection reset after the server acted would.
type loseAnswers struct {
	n    int32
	seen atomic.Int32
}

func (l *loseAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && l.seen.Add(1) <= l.n {
		resp.Body.Close()
		return nil, errors.New("connection reset by peer")
	}
	return resp, err
}

func TestBackoff(t *testing.T) {
	st := &Store{retryWait: 100 * time.Millisecond, maxRetryWait: 5 * time.Second}
	for _, tc := range []struct {
		name     string
		attempt  int
		err      error
		min, max time.Duration
	}{
		{"first retry", 0, &APIError{StatusCode: 500}, 50 * time.Millisecond, 100 * time.Millisecond},
		{"doubles", 3, &APIError{StatusCode: 500}, 400 * time.Millisecond, 800 * time.Millisecond},
		{"capped", 20, errors.New("x"), 2500 * time.Millisecond, 5 * time.Second},
		{"rate-limit reset", 0, &APIError{StatusCode: 429, wait: 2 * time.Second}, 2 * time.Second, 2100 * time.Millisecond},
		{"reset capped", 0, &APIError{StatusCode: 429, wait: time.Hour}, 5 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 50 {
				w := st.backoff(tc.attempt, tc.err)
				assert.GreaterOrEqual(t, w, tc.min)
				assert.LessOrEqual(t, w, tc.max)
			}
		})
	}
}

func TestServerWait(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"none", nil, 0},
		{"reset", map[string]string{"X-RateLimit-Reset": "7"}, 7 * time.Second},
		{"reset in fractions", map[string]string{"X-RateLimit-Reset": "0.25"}, 250 * time.Millisecond},
		{"retry-after seconds", map[string]string{"Retry-After": "3"}, 3 * time.Second},
		{"retry-after date", map[string]string{"Retry-After": now.Add(4 * time.Second).Format(http.TimeFormat)}, 4 * time.Second},
		{"the longer of both", map[string]string{"X-RateLimit-Reset": "2", "Retry-After": "5"}, 5 * time.Second},
		{"garbage", map[string]string{"X-RateLimit-Reset": "soon"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			assert.Equal(t, tc.want, serverWait(h, now))
		})
	}
}

// TestApplyTwice plans and applies desired monitors through the store,
// then plans again: nothing left to do, and an unmanaged monitor with a
// desired name survives.
func TestApplyTwice(t *testing.T) {
	s := ddtest.NewServer(t)
	unmanaged := anomaly("Cart")
	unmanagedID := s.Seed(ddtest.Monitor{Name: unmanaged.Name, Type: "query alert", Query: unmanaged.Query, Tags: []string{"team:cart"}})[0]
	st := newStore(t, s)
	ctx := context.Background()

	var desired []monitor.Desired
	for _, r := range []string{"Cart", "Checkout", "Search", "Login"} {
		m := anomaly(r)
		m.Options.NoDataTimeframe = 10 // normalised away: notify_no_data is off
		desired = append(desired, monitor.Desired{Definition: m.Definition, Source: monitor.Source{Record: "shop." + r}})
	}
	plan := func() *monitor.Plan {
		cur, err := st.List(ctx, monitor.EnvTag("prod"))
		require.NoError(t, err)
		return monitor.Diff("prod", desired, cur, monitor.Scope{})
	}
	p := plan()
	assert.Equal(t, monitor.Summary{Create: 4}, p.Summary())
	results, err := monitor.Apply(ctx, st, p, monitor.ApplyOptions{})
	require.NoError(t, err)
	for _, r := range results {
		require.NoError(t, r.Err)
	}
	assert.Equal(t, monitor.Summary{Unchanged: 4}, plan().Summary())
	_, ok := s.Monitor(unmanagedID)
	assert.True(t, ok, "the unmanaged monitor survives")
	assert.Len(t, s.Monitors(), 5)
}

// recordHosts answers every request with an empty list and remembers
// where it went and which key headers it carried.
type recordHosts struct {
	urls []string
	keys []string
}

func (r *recordHosts) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.Scheme+"://"+req.URL.Host+req.URL.Path)
	r.keys = append(r.keys, req.Header.Get("DD-API-KEY")+" "+req.Header.Get("DD-APPLICATION-KEY"))
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader("[]")), Request: req}, nil
}

func TestServerSelection(t *testing.T) {
	for _, tc := range []struct {
		name, site, url, want string
	}{
		{"default", "", "", "https://api.datadoghq.com/api/v1/monitor"},
		{"site", "datadoghq.eu", "", "https://api.datadoghq.eu/api/v1/monitor"},
		{"gov site", "ddog-gov.com", "", "https://api.ddog-gov.com/api/v1/monitor"},
		{"url", "datadoghq.eu", "http://127.0.0.1:8126", "http://127.0.0.1:8126/api/v1/monitor"},
		{"url with a path", "", "https://proxy.example.com/datadog/", "https://proxy.example.com/datadog/api/v1/monitor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &recordHosts{}
			st, err := New(Config{APIKey: "api-key", AppKey: "app-key", Site: tc.site, URL: tc.url, HTTPClient: &http.Client{Transport: rt}})
			require.NoError(t, err)
			_, err = st.List(context.Background(), "esm-prod")
			require.NoError(t, err)
			assert.Equal(t, []string{tc.want}, rt.urls)
			assert.Equal(t, []string{"api-key app-key"}, rt.keys)
		})
	}
}

func TestPing(t *testing.T) {
	srv := ddtest.NewServer(t, ddtest.WithKeys("api", "app"))
	s, err := New(Config{APIKey: "api", AppKey: "app", URL: srv.URL})
	require.NoError(t, err)
	require.NoError(t, s.Ping(context.Background()))
	bad, err := New(Config{APIKey: "wrong", AppKey: "app", URL: srv.URL, MaxRetries: -1})
	require.NoError(t, err)
	assert.ErrorContains(t, bad.Ping(context.Background()), "validate API key")
}

// A create that finds the monitor already there (same name and identity
// tag, made by a concurrent run) updates the oldest instead and deletes
// the newer twins; look-alikes are left alone.
func TestCreateFindsTheMonitorFirst(t *testing.T) {
	ctx := context.Background()
	m := anomaly("Cart")
	seed := func(query string, tags ...string) ddtest.Monitor {
		return ddtest.Monitor{Name: m.Name, Type: "query alert", Query: query, Message: m.Message, Tags: tags,
			Options: map[string]any{"thresholds": map[string]any{"critical": 1, "critical_recovery": 0},
				"threshold_windows": map[string]any{"trigger_window": "last_15m", "recovery_window": "last_15m"}}}
	}
	tests := []struct {
		name     string
		seed     []ddtest.Monitor
		wantKept int // index into seed
		wantGone []int
		calls    []string
		note     string
	}{
		{
			name:     "stale twin: updated",
			seed:     []ddtest.Monitor{seed("avg(last_5m):sum:old{*} > 1", m.Tags...)},
			calls:    []string{"GET 200", "PUT 200"},
			note:     "monitor 1001 of the same name and tag exists (made by a concurrent run): updated it instead of creating one",
			wantKept: 0,
		},
		{
			name:     "twins: the oldest kept, the others deleted",
			seed:     []ddtest.Monitor{seed(m.Query, m.Tags...), seed(m.Query, m.Tags...), seed(m.Query, "team:x"), seed(m.Query, "esm-prod")},
			calls:    []string{"GET 200", "DELETE 200", "DELETE 200"},
			note:     "monitor 1001 of the same name and tag exists (made by a concurrent run): kept it (already as desired) instead of creating one; deleted its newer twins 1002, 1004",
			wantKept: 0,
			wantGone: []int{1, 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ddtest.NewServer(t)
			ids := s.Seed(tt.seed...)
			st := newStore(t, s)
			got, err := st.CreateConverged(ctx, m)
			require.NoError(t, err)
			assert.Equal(t, ids[tt.wantKept], got.ID)
			assert.Equal(t, tt.note, got.Note)
			assert.Equal(t, tt.calls, calls(s))
			assert.Zero(t, s.CountRequests("POST", "/api/v1/monitor"), "nothing created")
			kept, ok := s.Monitor(got.ID)
			require.True(t, ok)
			assert.Equal(t, m.Query, kept.Query, "the kept monitor has the desired fields")
			for _, i := range tt.wantGone {
				_, ok := s.Monitor(ids[i])
				assert.False(t, ok, "twin %d deleted", ids[i])
			}
			assert.Len(t, s.Monitors(), len(ids)-len(tt.wantGone), "look-alikes (other tags) stay")
		})
	}
}

// Runs creating one monitor at once converge on the oldest: every create
// returns its ID and no duplicate remains. The latency makes every run
// look before any creates, as runs started together do.
func TestConcurrentCreatesConverge(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{2, 3, 8} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := ddtest.NewServer(t, ddtest.WithLatency(20*time.Millisecond))
			got := make([]monitor.Created, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				st := newStore(t, s)
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					var err error
					got[i], err = st.CreateConverged(ctx, anomaly("Cart"))
					assert.NoError(t, err)
				}()
			}
			close(start)
			wg.Wait()
			ms := s.Monitors()
			require.Len(t, ms, 1, "no duplicate remains")
			notes := 0
			for _, c := range got {
				assert.Equal(t, ms[0].ID, c.ID, "every run names the kept monitor")
				if c.Note != "" {
					notes++
				}
			}
			assert.GreaterOrEqual(t, notes, n-1, "the runs that did not create it say so: %+v", got)
		})
	}
}

// The Datadog store keeps the fingerprint of what esm wrote in the tag
// esm_fingerprint:..., hands it back apart from the tags, and a monitor
// edited in Datadog's UI plans as drift naming the edited fields; applying
// that plan writes a fresh fingerprint and the next plan is clean.
func TestFingerprintDrift(t *testing.T) {
	s := ddtest.NewServer(t)
	st := newStore(t, s)
	ctx := context.Background()
	d := anomaly("Cart")
	desired := []monitor.Desired{{Definition: d.Definition, Source: monitor.Source{Record: "shop.Cart"}}}
	plan := func() *monitor.Plan {
		cur, err := st.List(ctx, monitor.EnvTag("prod"))
		require.NoError(t, err)
		return monitor.Diff("prod", desired, cur, monitor.Scope{})
	}
	apply := func(p *monitor.Plan) {
		results, err := monitor.Apply(ctx, st, p, monitor.ApplyOptions{})
		require.NoError(t, err)
		for _, r := range results {
			require.NoError(t, r.Err)
		}
	}
	apply(plan())

	fp := monitor.Fingerprint(&d.Definition)
	ms := s.Monitors()
	require.Len(t, ms, 1)
	assert.Contains(t, ms[0].Tags, "esm_fingerprint:"+fp, "Datadog keeps the tag as esm wrote it")
	cur, err := st.List(ctx, "esm-prod")
	require.NoError(t, err)
	assert.Equal(t, fp, cur[0].Fingerprint)
	assert.NotContains(t, strings.Join(cur[0].Tags, " "), "esm_fingerprint", "the fingerprint is not among the owned tags")
	assert.False(t, plan().HasChanges())

	s.EditMonitor(t, ms[0].ID, func(m map[string]any) {
		m["query"] = strings.Replace(m["query"].(string), ">= 1", ">= 2", 1)
		m["options"].(map[string]any)["thresholds"].(map[string]any)["critical"] = 2
	})
	p := plan()
	require.Len(t, p.Changes, 1)
	c := p.Changes[0]
	assert.Equal(t, monitor.Update, c.Action)
	assert.True(t, c.Drift)
	assert.Equal(t, []string{"query", "options.thresholds.critical"}, c.DriftedFields)

	apply(p)
	assert.False(t, plan().HasChanges(), "the second apply left a clean plan")
	ms = s.Monitors()
	assert.Contains(t, ms[0].Tags, "esm_fingerprint:"+fp, "the update rewrote the fingerprint")
	assert.Equal(t, 1, strings.Count(strings.Join(ms[0].Tags, " "), "esm_fingerprint:"), "one fingerprint tag")

	// An update without a fingerprint (esm adopt's) leaves none: a PUT
	// replaces the tags.
	require.NoError(t, st.Update(ctx, ms[0].ID, &monitor.Monitor{Definition: d.Definition}))
	cur, err = st.List(ctx, "esm-prod")
	require.NoError(t, err)
	assert.Empty(t, cur[0].Fingerprint)
}
