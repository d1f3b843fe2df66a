package ddtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// EditMonitor changes monitor id as a person in Datadog's UI does: it
// reads the monitor (GET /api/v1/monitor/{id}), lets edit change the
// decoded body, and saves the whole of it back (PUT /api/v1/monitor/{id}),
// tags and options included, through the server's HTTP API. A field edit
// does not touch is saved as it was. The test fails when either call does.
func (s *Server) EditMonitor(t testing.TB, id int64, edit func(m map[string]any)) {
	t.Helper()
	m := s.call(t, http.MethodGet, id, nil)
	edit(m)
	body := map[string]any{}
	for _, k := range []string{"name", "type", "query", "message", "tags", "priority", "options"} {
		if v, ok := m[k]; ok {
			body[k] = v
		}
	}
	s.call(t, http.MethodPut, id, body)
}

// call sends one request about monitor id with the server's keys and
// returns the decoded answer.
func (s *Server) call(t testing.TB, method string, id int64, body map[string]any) map[string]any {
	t.Helper()
	var in io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("ddtest: %s monitor %d: %v", method, id, err)
		}
		in = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, fmt.Sprintf("%s/api/v1/monitor/%d", s.URL, id), in)
	if err != nil {
		t.Fatalf("ddtest: %s monitor %d: %v", method, id, err)
	}
	api, app := s.apiKey, s.appKey
	if api == "" {
		api = "ui"
	}
	if app == "" {
		app = "ui"
	}
	req.Header.Set("DD-API-KEY", api)
	req.Header.Set("DD-APPLICATION-KEY", app)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("ddtest: %s monitor %d: %v", method, id, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ddtest: %s monitor %d: %s: %s", method, id, resp.Status, out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("ddtest: %s monitor %d: %v", method, id, err)
	}
	return m
}
