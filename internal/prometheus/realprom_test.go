package prometheus

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	bin := needTool(t, "prometheus")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  evaluation_interval: 1s\nrule_files:\n  - %q\n", filepath.Join(rulesDir, "*.rules.yml"))
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
