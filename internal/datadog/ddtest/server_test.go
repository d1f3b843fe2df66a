package ddtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// call sends a request with keys and returns the status and body.
func call(t *testing.T, s *Server, method, path, body string) (int, string) {
	t.Helper()
	return callWith(t, s, method, path, body, map[string]string{"DD-API-KEY": "api", "DD-APPLICATION-KEY": "app"})
}

func callWith(t *testing.T, s *Server, method, path, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &v), body)
	return v
}

const anomaly = `{"name":"Traffic Anomaly with Cart","type":"query alert",` +
	`"query":"avg(last_4h):anomalies(sum:esm.events.received{event_type:Cart,env:prod}.as_count(), 'agile', 2) >= 1",` +
	`"message":"m","tags":["ESM-Prod","Team:Cart"],` +
	`"options":{"thresholds":{"critical":1,"critical_recovery":0},"threshold_windows":{"trigger_window":"last_15m","recovery_window":"last_15m"},"notify_no_data":false,"no_data_timeframe":20}}`

func TestKeysRequired(t *testing.T) {
	s := NewServer(t, WithKeys("api", "app"))
	for _, tc := range []struct {
		name   string
		header map[string]string
		status int
	}{
		{"none", nil, http.StatusForbidden},
		{"api key only", map[string]string{"DD-API-KEY": "api"}, http.StatusForbidden},
		{"application key only", map[string]string{"DD-APPLICATION-KEY": "app"}, http.StatusForbidden},
		{"wrong api key", map[string]string{"DD-API-KEY": "nope", "DD-APPLICATION-KEY": "app"}, http.StatusForbidden},
		{"both", map[string]string{"DD-API-KEY": "api", "DD-APPLICATION-KEY": "app"}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := callWith(t, s, "GET", "/api/v1/monitor", "", tc.header)
			assert.Equal(t, tc.status, status)
			if status == http.StatusForbidden {
				assert.Equal(t, []any{"Forbidden"}, decode(t, body)["errors"])
			}
		})
	}
	status, _ := callWith(t, s, "GET", "/api/v1/validate", "", map[string]string{"DD-API-KEY": "api"})
	assert.Equal(t, http.StatusOK, status, "validating the API key needs no application key")
}

func TestCreateStoresLikeDatadog(t *testing.T) {
	s := NewServer(t)
	status, body := call(t, s, "POST", "/api/v1/monitor", anomaly)
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"thresholds":{"critical":1.0,"critical_recovery":0.0}`, "thresholds come back as floats")

	got := decode(t, body)
	assert.Equal(t, []any{"esm-prod", "team:cart"}, got["tags"])
	assert.Nil(t, got["priority"])
	assert.Equal(t, "No Data", got["overall_state"])
	assert.NotEmpty(t, got["created"])
	assert.Equal(t, got["created"], got["modified"])
	opts := got["options"].(map[string]any)
	assert.Equal(t, false, opts["notify_audit"])
	assert.Equal(t, true, opts["include_tags"])
	assert.Equal(t, 300.0, opts["new_host_delay"])
	assert.Equal(t, map[string]any{}, opts["silenced"])
	assert.NotContains(t, opts, "no_data_timeframe", "dropped while notify_no_data is off")
	assert.NotContains(t, opts, "require_full_window", "not added, as recorded")

	ms := s.Monitors()
	require.Len(t, ms, 1)
	assert.Equal(t, int64(got["id"].(float64)), ms[0].ID)
	assert.Equal(t, "query alert", ms[0].Type)

	status, body = call(t, s, "POST", "/api/v1/monitor", strings.Replace(anomaly, `"query alert"`, `"metric alert"`, 1))
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "query alert", decode(t, body)["type"], "metric alert is stored as query alert")
}

// TestTagsStoredLikeDatadog: tags come back in the form Datadog stores
// them, whatever form they were sent in.
func TestTagsStoredLikeDatadog(t *testing.T) {
	long := strings.Repeat("a", 250)
	tests := []struct{ sent, stored string }{
		{"ESM-Prod", "esm-prod"},
		{"esm_file:Schemas Dir/My Cart.avdl", "esm_file:schemas_dir/my_cart.avdl"},
		{"esm_record:com.x.Legacy__Event_", "esm_record:com.x.legacy_event"},
		{"team:a&&b", "team:a_b"},
		{"Équipe:Panier", "équipe:panier"},
		{"1team", "team"},
		{long, long[:200]},
	}
	s := NewServer(t)
	for _, tt := range tests {
		t.Run(tt.sent, func(t *testing.T) {
			body := strings.Replace(anomaly, `"tags":["ESM-Prod","Team:Cart"]`, `"tags":[`+fmt.Sprintf("%q", tt.sent)+`]`, 1)
			status, resp := call(t, s, "POST", "/api/v1/monitor", body)
			require.Equal(t, http.StatusOK, status, resp)
			assert.Equal(t, []any{tt.stored}, decode(t, resp)["tags"])
		})
	}
}

func TestBadRequests(t *testing.T) {
	s := NewServer(t)
	for _, tc := range []struct {
		name, method, path, body, msg string
		status                        int
	}{
		{"missing type", "POST", "/api/v1/monitor", `{"name":"n","query":"avg(last_5m):x{*} > 1"}`, msgTypeRequired, 400},
		{"empty type", "POST", "/api/v1/monitor/validate", `{"query":"","type":""}`, msgTypeRequired, 400},
		{"unknown type", "POST", "/api/v1/monitor", `{"name":"n","type":"nope","query":"avg(last_5m):x{*} > 1"}`, msgTypeInvalid, 400},
		{"missing query", "POST", "/api/v1/monitor", `{"name":"n","type":"query alert"}`, msgQueryRequired, 400},
		{"query without operator", "POST", "/api/v1/monitor", `{"query":"query","type":"log alert"}`, msgQueryInvalid, 400},
		{"missing name", "POST", "/api/v1/monitor", `{"type":"query alert","query":"avg(last_5m):x{*} > 1"}`, msgNameRequired, 400},
		{"priority out of range", "POST", "/api/v1/monitor", `{"name":"n","type":"query alert","query":"avg(last_5m):x{*} > 1","priority":9}`, msgPriority, 400},
		{"invalid JSON", "POST", "/api/v1/monitor", `{`, msgInvalidJSON, 400},
		{"bad group_states", "GET", "/api/v1/monitor?group_states=notagroupstate", ``, msgGroupStates, 400},
		{"page too large", "GET", "/api/v1/monitor?page=0&page_size=1001", ``, "The value provided for parameter 'page_size' is invalid: it must be between 1 and 1000", 400},
		{"get unknown", "GET", "/api/v1/monitor/1234", ``, msgNotFound, 404},
		{"update unknown", "PUT", "/api/v1/monitor/1234", `{}`, msgNotFound, 404},
		{"delete unknown", "DELETE", "/api/v1/monitor/1234", ``, msgNotFound, 404},
		{"invalid id", "GET", "/api/v1/monitor/abc", ``, msgInvalidID, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, s, tc.method, tc.path, tc.body)
			assert.Equal(t, tc.status, status)
			assert.Equal(t, []any{tc.msg}, decode(t, body)["errors"])
		})
	}
	assert.Empty(t, s.Monitors())
}

func TestUpdateReplacesOptions(t *testing.T) {
	s := NewServer(t)
	// The body of Scenario_Edit_a_monitor_returns_OK_response.
	_, body := call(t, s, "POST", "/api/v1/monitor", `{"message":"some message","name":"edit","options":{"enable_logs_sample":true,"escalation_message":"the situation has escalated","evaluation_delay":700,"include_tags":true,"locked":false,"new_host_delay":600,"no_data_timeframe":null,"notify_audit":false,"notify_no_data":false,"renotify_interval":60,"require_full_window":true,"thresholds":{"critical":2,"warning":1},"timeout_h":24},"priority":3,"query":"logs(\"service:foo\").index(\"main\").rollup(\"count\").last(\"5m\") > 2","tags":["env:ci"],"type":"log alert"}`)
	id := int64(decode(t, body)["id"].(float64))

	status, body := call(t, s, "PUT", fmt.Sprintf("/api/v1/monitor/%d", id), `{"name":"edit-updated","options":{"evaluation_delay":null,"new_group_delay":600,"new_host_delay":null,"renotify_interval":null,"thresholds":{"critical":2,"warning":null},"timeout_h":null},"priority":null}`)
	require.Equal(t, http.StatusOK, status, body)
	got := decode(t, body)
	assert.Equal(t, "edit-updated", got["name"])
	assert.Equal(t, "some message", got["message"], "fields left out of a PUT are kept")
	assert.Equal(t, []any{"env:ci"}, got["tags"])
	assert.Nil(t, got["priority"])
	opts := got["options"].(map[string]any)
	for _, gone := range []string{"escalation_message", "enable_logs_sample", "locked", "require_full_window"} {
		assert.NotContains(t, opts, gone, "options are replaced as a whole")
	}
	assert.Equal(t, map[string]any{"critical": 2.0}, opts["thresholds"])
	assert.Contains(t, opts, "evaluation_delay")
	assert.Nil(t, opts["evaluation_delay"], "explicit nulls are kept")
	assert.Equal(t, 600.0, opts["new_group_delay"])
	assert.Equal(t, true, opts["include_tags"])

	status, body = call(t, s, "PUT", fmt.Sprintf("/api/v1/monitor/%d", id), `{"type":"query alert"}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, []any{msgTypeChange}, decode(t, body)["errors"])
}

func TestListFiltersAndPages(t *testing.T) {
	s := NewServer(t)
	var seeded []Monitor
	for i := range 25 {
		tags := []string{"esm-prod"}
		if i%5 == 0 {
			tags = []string{"team:other"}
		}
		seeded = append(seeded, Monitor{Name: fmt.Sprintf("Traffic Anomaly with R%02d", i), Type: "query alert",
			Query: fmt.Sprintf("avg(last_5m):sum:x{env:prod,record:r%d} by {host} > 1", i), Tags: tags})
	}
	ids := s.Seed(seeded...)
	require.Len(t, ids, 25)

	list := func(query string) []map[string]any {
		t.Helper()
		status, body := call(t, s, "GET", "/api/v1/monitor"+query, "")
		require.Equal(t, http.StatusOK, status, body)
		var out []map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &out))
		return out
	}
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", 25},
		{"?page_size=3", 25}, // no page: everything
		{"?monitor_tags=esm-prod", 20},
		{"?monitor_tags=ESM-PROD", 20},
		{"?monitor_tags=esm-prod,team:other", 0},
		{"?monitor_tags=esm-staging", 0},
		{"?name=r07", 1},
		{"?name=traffic%20anomaly", 25},
		{"?tags=record:r3", 1},
		{"?tags=host", 0}, // a group-by is not a scope
		{"?tags=env:prod", 25},
		{"?page=0", 25},
		{"?page=0&page_size=10", 10},
		{"?page=2&page_size=10", 5},
		{"?page=3&page_size=10", 0},
		{"?page=1&page_size=10&monitor_tags=esm-prod", 10},
		{fmt.Sprintf("?id_offset=%d", ids[19]), 5},
	} {
		t.Run(tc.query, func(t *testing.T) {
			assert.Len(t, list(tc.query), tc.want)
		})
	}

	s.ResetRequests()
	var got []float64
	for page := 0; ; page++ {
		ms := list(fmt.Sprintf("?monitor_tags=esm-prod&page=%d&page_size=7", page))
		for _, m := range ms {
			got = append(got, m["id"].(float64))
		}
		if len(ms) < 7 {
			break
		}
	}
	assert.Len(t, got, 20)
	assert.IsIncreasing(t, got, "pages are ordered by id and do not overlap")
	assert.Equal(t, 3, s.CountRequests("GET", "/api/v1/monitor"), "20 monitors in pages of 7")
}

func TestDelete(t *testing.T) {
	s := NewServer(t)
	id := s.Seed(Monitor{Name: "a", Type: "query alert", Query: "avg(last_5m):x{*} > 1"})[0]
	status, body := call(t, s, "DELETE", fmt.Sprintf("/api/v1/monitor/%d", id), "")
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, fmt.Sprintf(`{"deleted_monitor_id":%d}`, id), body)
	status, _ = call(t, s, "DELETE", fmt.Sprintf("/api/v1/monitor/%d", id), "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Empty(t, s.Monitors())
}

func TestFaults(t *testing.T) {
	t.Run("FailNext", func(t *testing.T) {
		s := NewServer(t, FailNext(2, http.StatusTooManyRequests, RateLimit{Name: "get_monitors", Limit: 3000, Period: 10, Remaining: 0, Reset: 7}.Header()))
		req, err := http.NewRequest("GET", s.URL+"/api/v1/monitor", nil)
		require.NoError(t, err)
		req.Header.Set("DD-API-KEY", "k")
		req.Header.Set("DD-APPLICATION-KEY", "a")
		for range 2 {
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			assert.Equal(t, "7", resp.Header.Get("X-RateLimit-Reset"))
			assert.Equal(t, "get_monitors", resp.Header.Get("X-RateLimit-Name"))
		}
		status, _ := call(t, s, "GET", "/api/v1/monitor", "")
		assert.Equal(t, http.StatusOK, status)
		statuses := []int{}
		for _, r := range s.Requests() {
			statuses = append(statuses, r.Status)
		}
		assert.Equal(t, []int{429, 429, 200}, statuses)
	})
	t.Run("FailNextOn", func(t *testing.T) {
		s := NewServer(t)
		s.FailNextOn("POST", "/api/v1/monitor", 1, http.StatusServiceUnavailable, nil)
		status, _ := call(t, s, "GET", "/api/v1/monitor", "")
		assert.Equal(t, http.StatusOK, status)
		status, _ = call(t, s, "POST", "/api/v1/monitor", anomaly)
		assert.Equal(t, http.StatusServiceUnavailable, status)
		assert.Empty(t, s.Monitors())
		status, _ = call(t, s, "POST", "/api/v1/monitor", anomaly)
		assert.Equal(t, http.StatusOK, status)
	})
	t.Run("FailAfterCreate", func(t *testing.T) {
		s := NewServer(t, FailAfterCreate(1))
		status, body := call(t, s, "POST", "/api/v1/monitor", anomaly)
		assert.Equal(t, http.StatusInternalServerError, status)
		assert.Equal(t, []any{"Internal Server Error"}, decode(t, body)["errors"])
		assert.Len(t, s.Monitors(), 1, "the monitor was stored anyway")
	})
	t.Run("WithLatency", func(t *testing.T) {
		s := NewServer(t, WithLatency(30*time.Millisecond))
		start := time.Now()
		call(t, s, "GET", "/api/v1/monitor", "")
		assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
	})
}

func TestSeedAndCopies(t *testing.T) {
	s := NewServer(t)
	id := s.Seed(Monitor{ID: 5000, Name: "unmanaged", Type: "metric alert", Query: "avg(last_5m):x{*} > 1", Tags: []string{"Team:X"},
		Options: map[string]any{"thresholds": map[string]int{"critical": 1}}})[0]
	assert.Equal(t, int64(5000), id)
	m, ok := s.Monitor(5000)
	require.True(t, ok)
	assert.Equal(t, "query alert", m.Type)
	assert.Equal(t, []string{"team:x"}, m.Tags)
	assert.Equal(t, map[string]any{"critical": 1.0}, m.Options["thresholds"])

	m.Tags[0] = "changed"
	m.Options["include_tags"] = false
	again, _ := s.Monitor(5000)
	assert.Equal(t, []string{"team:x"}, again.Tags, "Monitor returns a copy")
	assert.Equal(t, true, again.Options["include_tags"])

	_, body := call(t, s, "POST", "/api/v1/monitor", anomaly)
	assert.Equal(t, 5001.0, decode(t, body)["id"], "ids continue after seeded ones")
}

// Datadog accepts two monitors of one name and tags: concurrent creates
// each get their own, increasing id, and a list by name and monitor tag
// returns them all, oldest first, as esm's converging creates expect.
func TestConcurrentCreatesOfOneMonitor(t *testing.T) {
	s := NewServer(t, WithLatency(10*time.Millisecond))
	const n = 8
	ids := make(chan float64, n)
	done := make(chan struct{})
	for range n {
		go func() {
			defer func() { done <- struct{}{} }()
			status, body := call(t, s, "POST", "/api/v1/monitor", anomaly)
			if assert.Equal(t, http.StatusOK, status, body) {
				ids <- decode(t, body)["id"].(float64)
			}
		}()
	}
	for range n {
		<-done
	}
	close(ids)
	seen := map[float64]bool{}
	for id := range ids {
		assert.False(t, seen[id], "id %v given twice", id)
		seen[id] = true
	}
	assert.Len(t, seen, n)

	status, body := call(t, s, "GET", "/api/v1/monitor?name=Traffic+Anomaly+with+Cart&monitor_tags=esm-prod&page=0&page_size=1000", "")
	require.Equal(t, http.StatusOK, status, body)
	var listed []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &listed))
	require.Len(t, listed, n)
	for i := 1; i < n; i++ {
		assert.Less(t, listed[i-1]["id"].(float64), listed[i]["id"].(float64), "oldest first")
	}
}
