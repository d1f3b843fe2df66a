package prometheus

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

// startPrometheus runs the real Prometheus on a free port of 127.0.0.1,
// with lifecycle endpoints and the rule files of rulesDir, and returns
// its base URL. The test skips when prometheus is not installed (fails
// under CI=true).
func startPrometheus(t *testing.T, rulesDir string) string {
	t.Helper()
	return startPrometheusScraping(t, rulesDir, "")
}

// startPrometheusScraping is startPrometheus scraping target (host:port)
// every second, when not "".
func startPrometheusScraping(t *testing.T, rulesDir, target string) string {
	t.Helper()
	bin := needTool(t, "prometheus")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  evaluation_interval: 1s\n  scrape_interval: 1s\nrule_files:\n  - %q\n", filepath.Join(rulesDir, "*.rules.yml"))
	if target != "" {
		cfg += fmt.Sprintf("scrape_configs:\n  - job_name: esm\n    static_configs:\n      - targets: [%q]\n", target)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--web.enable-lifecycle")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	url := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "prometheus did not get ready")
	return url
}

// loadedRules returns the names of the alerting rules Prometheus has
// loaded, by group (GET /api/v1/rules).
func loadedRules(t *testing.T, url string) map[string][]string {
	t.Helper()
	resp, err := http.Get(url + "/api/v1/rules?type=alert")
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name   string            `json:"name"`
					Labels map[string]string `json:"labels"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	out := map[string][]string{}
	for _, g := range body.Data.Groups {
		for _, r := range g.Rules {
			out[g.Name] = append(out[g.Name], r.Name+" "+r.Labels[SeverityLabel])
		}
	}
	return out
}

// TestRealPrometheusReloads: the rules esm writes load into the real
// Prometheus, which Commit asks to reload; a rule removed is gone after
// the next reload.
func TestRealPrometheusReloads(t *testing.T) {
	rulesDir := t.TempDir()
	url := startPrometheus(t, rulesDir)
	assert.Empty(t, loadedRules(t, url))

	ctx := context.Background()
	s := newStore(t, rulesDir, url)
	_, err := s.List(ctx, "")
	require.NoError(t, err)
	var all []monitor.Definition
	for _, c := range renderCases {
		if c.name == "traffic_volume_below_warning" || c.name == "traffic_anomaly_defaults" || c.name == "bad_data_defaults" || c.name == "traffic_forecast_below" {
			for _, m := range c.render(t) {
				all = append(all, m.Definition)
			}
		}
	}
	for i := range all {
		_, err := s.Create(ctx, &monitor.Monitor{Definition: all[i]})
		require.NoError(t, err)
	}
	notes, err := s.Commit(ctx)
	require.NoError(t, err)
	require.Len(t, notes, 2)
	assert.Equal(t, "Prometheus at "+url+" reloaded its rules", notes[1])
	assert.Equal(t, map[string][]string{
		"Bad Data with AddToCartEvent":         {"EsmBadData critical"},
		"Traffic Anomaly with AddToCartEvent":  {"EsmTrafficAnomaly critical"},
		"Traffic Forecast with AddToCartEvent": {"EsmTrafficForecast critical"},
		"Traffic Volume with AddToCartEvent":   {"EsmTrafficVolume critical", "EsmTrafficVolume warning"},
	}, loadedRules(t, url))

	listed, err := s.List(ctx, "")
	require.NoError(t, err)
	for _, m := range listed {
		if m.Rule.Alert != "EsmTrafficVolume" {
			require.NoError(t, s.Delete(ctx, m.ID))
		}
	}
	_, err = s.Commit(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{
		"Traffic Volume with AddToCartEvent": {"EsmTrafficVolume critical", "EsmTrafficVolume warning"},
	}, loadedRules(t, url))
}

// TestRealPrometheusRefusesBrokenRules: a reload Prometheus refuses is a
// note that says so.
func TestRealPrometheusRefusesBrokenRules(t *testing.T) {
	rulesDir := t.TempDir()
	url := startPrometheus(t, rulesDir)
	ctx := context.Background()
	s := newStore(t, rulesDir, url)
	_, err := s.List(ctx, "")
	require.NoError(t, err)
	defs, err := Render(spec(t, annotations.TrafficVolume(), target(), `{}`))
	require.NoError(t, err)
	broken := defs[0]
	r := *broken.Rule
	r.Expr = "sum(("
	broken.Rule = &r
	_, err = s.Create(ctx, &monitor.Monitor{Definition: broken})
	require.NoError(t, err)
	notes, err := s.Commit(ctx)
	require.NoError(t, err)
	require.Len(t, notes, 2)
	assert.Contains(t, notes[1], "Prometheus did not reload its rules: POST "+url+"/-/reload answered 500 Internal Server Error")
}

// TestRealPrometheusFires: the rules esm writes fire on a real
// Prometheus that scrapes the collector's counters: a third of the
// events rejected fires the bad data alert, with esm's labels, within
// seconds.
func TestRealPrometheusFires(t *testing.T) {
	var scrapes atomic.Int64
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := scrapes.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE esm_events_received_total counter\nesm_events_received_total{event_type=\"AddToCartEvent\",env=\"prod\"} %d\n", 10*n)
		fmt.Fprintf(w, "# TYPE esm_events_rejected_total counter\nesm_events_rejected_total{event_type=\"AddToCartEvent\",reason=\"schema\"} %d\n", 5*n)
	}))
	url := scrapingWithRule(t, exporter, spec(t, annotations.BadData(), target(), `{"above": 0.2, "window": "last_1m"}`))

	awaitFiring(t, url, map[string]string{
		"alertname": "EsmBadData", MonitorLabel: "Bad Data with AddToCartEvent", EventTypeLabel: "AddToCartEvent",
		EnvLabel: "prod", SeverityLabel: SeverityCrit, ChannelsLabel: ",team-cart,",
	})
}

// scrapingWithRule starts a real Prometheus scraping exporter (closed
// when the test ends) with the critical rule of sp written by the store
// and reloaded, and returns its URL.
func scrapingWithRule(t *testing.T, exporter *httptest.Server, sp annotations.Spec) string {
	t.Helper()
	t.Cleanup(exporter.Close)
	rulesDir := t.TempDir()
	url := startPrometheusScraping(t, rulesDir, strings.TrimPrefix(exporter.URL, "http://"))
	ctx := context.Background()
	s := newStore(t, rulesDir, url)
	_, err := s.List(ctx, "")
	require.NoError(t, err)
	defs, err := Render(sp)
	require.NoError(t, err)
	_, err = s.Create(ctx, &monitor.Monitor{Definition: defs[0]})
	require.NoError(t, err)
	notes, err := s.Commit(ctx)
	require.NoError(t, err)
	require.Equal(t, "Prometheus at "+url+" reloaded its rules", notes[1])
	return url
}

// awaitFiring waits up to a minute for the Prometheus at url to fire an
// alert with exactly the labels want (GET /api/v1/alerts), and returns its
// annotations; it fails the test, listing the alerts, if none does.
func awaitFiring(t *testing.T, url string, want map[string]string) map[string]string {
	t.Helper()
	var last string
	var found map[string]string
	ok := assert.Eventually(t, func() bool {
		resp, err := http.Get(url + "/api/v1/alerts")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var body struct {
			Data struct {
				Alerts []struct {
					Labels      map[string]string `json:"labels"`
					Annotations map[string]string `json:"annotations"`
					State       string            `json:"state"`
				} `json:"alerts"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&body) != nil {
			return false
		}
		last = fmt.Sprint(body.Data.Alerts)
		for _, a := range body.Data.Alerts {
			if a.State == "firing" && reflect.DeepEqual(a.Labels, want) {
				found = a.Annotations
				return true
			}
		}
		return false
	}, 60*time.Second, 250*time.Millisecond)
	if !ok {
		t.Logf("alerts: %s", last)
	}
	return found
}

// TestRealPrometheusFiresOnAQueryRow: a query threshold's rule fires on a
// real Prometheus that scrapes the query gauge, for the row below the
// threshold only, labelled with its label column, and the summary names
// the row (Prometheus fills in {{ $labels.country }}).
func TestRealPrometheusFiresOnAQueryRow(t *testing.T) {
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# TYPE esm_query_value gauge\n"+
			`esm_query_value{country="fr",query="orders_today"} 12.5`+"\n"+
			`esm_query_value{country="de",query="orders_today"} 0.5`+"\n")
	}))
	url := scrapingWithRule(t, exporter, spec(t, annotations.QueryThreshold(), queryTarget("country")(), `{"below": 1, "window": "last_1m"}`))

	got := awaitFiring(t, url, map[string]string{
		"alertname": "EsmQueryThreshold", MonitorLabel: "Query Threshold with orders_today", QueryLabel: "orders_today", "country": "de",
		EnvLabel: "prod", SeverityLabel: SeverityCrit, ChannelsLabel: ",team-data,",
	})
	assert.Equal(t, `Query threshold for orders_today in prod: the value of esm_query_value{query="orders_today"} for country="de" is below 1 (average over the last 1m).`, got["summary"])
	resp, err := http.Get(url + "/api/v1/alerts")
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Alerts []json.RawMessage `json:"alerts"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Len(t, body.Data.Alerts, 1, "the row of fr is above the threshold: %s", body.Data.Alerts)
}
