package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/alertmanager"
	"github.com/esm-dev/esm/internal/testenv"
)

// e2eSchema is the record of the end-to-end test: a heartbeat whose
// traffic volume monitor alerts when a minute passes without one, routed
// to a webhook channel.
const e2eSchema = `@namespace("com.example.e2e")
protocol EndToEnd {
  /** A heartbeat the end-to-end test sends, then stops sending. */
  @alert_channel("webhook-e2e")
  @traffic_volume_monitor({"below": 1, "window": "last_1m"})
  record Heartbeat { string id; }
}
`

// e2eMonitor is the monitor of e2eSchema, as every backend names it.
const e2eMonitor = "Traffic Volume with Heartbeat"

// e2eTool returns the path of the first of names on PATH (testenv.Tool).
func e2eTool(t *testing.T, names ...string) string {
	t.Helper()
	return testenv.Tool(t, "Debian: apt-get install prometheus prometheus-alertmanager", names...)
}

// startTool runs a server binary with args until the test ends, its
// output in dir/name.log (printed when the test fails), and waits until
// readyURL answers 200.
func startTool(t *testing.T, dir, name, bin, readyURL string, args ...string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start(), "start %s", name)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, tail(b, 4000))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited before it was ready: %v\n%s", name, err, tail(b, 4000))
		default:
		}
		if resp, err := http.Get(readyURL); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready at %s after 30s", name, readyURL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// webhookMessage is the part of Alertmanager's webhook payload the test
// reads.
type webhookMessage struct {
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	Alerts   []struct {
		Status   string            `json:"status"`
		Labels   map[string]string `json:"labels"`
		StartsAt time.Time         `json:"startsAt"`
	} `json:"alerts"`
}

// promQuery returns the result of an instant query against Prometheus at
// base, as its API's JSON data.
func promQuery(t *testing.T, base, path string, params url.Values) json.RawMessage {
	t.Helper()
	resp, err := http.Get(base + path + "?" + params.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var r struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	require.NoError(t, json.Unmarshal(b, &r), "%s", b)
	require.Equal(t, "success", r.Status, "%s: %s", path, r.Error)
	return r.Data
}

// firingVolumeAlerts returns how many EsmTrafficVolume alerts of
// e2eMonitor Prometheus holds as firing.
func firingVolumeAlerts(t *testing.T, prom string) int {
	t.Helper()
	var data struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	require.NoError(t, json.Unmarshal(promQuery(t, prom, "/api/v1/alerts", nil), &data))
	n := 0
	for _, a := range data.Alerts {
		if a.Labels["alertname"] == "EsmTrafficVolume" && a.Labels[alertmanager.MonitorLabel] == e2eMonitor && a.State == "firing" {
			n++
		}
	}
	return n
}

// The whole path on the real tools: esm serve counts the heartbeats; a
// real Prometheus scrapes it every second and evaluates esm's traffic
// volume rule; while heartbeats arrive the alert stays quiet; once they
// stop, it fires, and a real Alertmanager, configured by "esm
// alertmanager", delivers it to the webhook of the record's channel.
func TestPrometheusAlertmanagerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: about 80 seconds")
	}
	promBin := e2eTool(t, "prometheus")
	amBin := e2eTool(t, "prometheus-alertmanager", "alertmanager")
	start := time.Now()
	dir := t.TempDir()
	schemas := filepath.Join(dir, "schemas")
	require.NoError(t, os.Mkdir(schemas, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(schemas, "e2e.avdl"), []byte(e2eSchema), 0o644))
	cfgFile := filepath.Join(dir, "esm.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("environments:\n  prod: {}\n"), 0o644))

	// The webhook receiver of the channel webhook-e2e.
	messages := make(chan webhookMessage, 64)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m webhookMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case messages <- m:
		default:
		}
	}))
	defer hook.Close()

	// Alertmanager's configuration: "esm alertmanager" merged into a
	// minimal one with short group timings.
	base := filepath.Join(dir, "base.yml")
	require.NoError(t, os.WriteFile(base, []byte("route:\n  receiver: default\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: default\n"), 0o644))
	var stdout, stderr bytes.Buffer
	status := run([]string{"alertmanager", "--env", "prod", "--config", cfgFile, "--merge", base,
		"--webhook-url", "webhook-e2e=" + hook.URL + "/hook", schemas}, &stdout, &stderr)
	require.Equal(t, 0, status, "esm alertmanager: %s", stderr.String())
	amConfig := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, os.WriteFile(amConfig, stdout.Bytes(), 0o644))

	// The rules: what "esm apply --backend prometheus" writes.
	rulesDir := filepath.Join(dir, "rules")
	require.NoError(t, os.Mkdir(rulesDir, 0o755))
	ar := runESM(t, "apply", "--env", "prod", "--yes", "--backend", "prometheus", "--rules-dir", rulesDir,
		"--config", cfgFile, "--state-dir", filepath.Join(dir, "state"), schemas)
	require.Equal(t, 0, ar.code, "esm apply --backend prometheus: %s", ar.stderr)
	rulesFile := filepath.Join(rulesDir, "esm-prod.rules.yml")

	// esm serve, the collector.
	sc := testServeConfig("")
	sc.role, sc.schemas, sc.configFile = "collector", schemas, cfgFile
	sc.log = slog.New(slog.DiscardHandler)
	collector, stopCollector := startServer(t, sc)
	defer stopCollector()

	amAddr, promAddr := closedPort(t), closedPort(t) // free for the tools to listen on
	startTool(t, dir, "alertmanager", amBin, "http://"+amAddr+"/-/ready",
		"--config.file="+amConfig, "--storage.path="+filepath.Join(dir, "am-data"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")
	promConfig := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: esm
    static_configs:
      - targets: [%q]
`, rulesFile, amAddr, strings.TrimPrefix(collector, "http://"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(promConfig), 0o644))
	startTool(t, dir, "prometheus", promBin, "http://"+promAddr+"/-/ready",
		"--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "prom-data"),
		"--web.listen-address="+promAddr)
	prom := "http://" + promAddr

	// Heartbeats, four a second, until stopped.
	stopBeats := make(chan struct{})
	var beats sync.WaitGroup
	beats.Add(1)
	go func() {
		defer beats.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			resp, err := http.Post(collector+"/v1/events/Heartbeat", "application/json", strings.NewReader(fmt.Sprintf(`{"id": "h%d"}`, i)))
			if err == nil {
				resp.Body.Close()
			}
			select {
			case <-stopBeats:
				return
			case <-tick.C:
			}
		}
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			close(stopBeats)
			beats.Wait()
		}
	}
	defer stop()

	// While heartbeats arrive, Prometheus sees them and the alert is quiet
	// (it may fire at first, before two scrapes show an increase: no
	// series counts as zero events).
	increase := url.Values{"query": {`sum(increase(esm_events_received_total{event_type="Heartbeat",env="prod"}[1m]))`}}
	quietSince := time.Time{}
	for deadline := time.Now().Add(45 * time.Second); ; {
		var data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		}
		require.NoError(t, json.Unmarshal(promQuery(t, prom, "/api/v1/query", increase), &data))
		seen := len(data.Result) == 1 && data.Result[0].Value[1] != "0"
		if seen && firingVolumeAlerts(t, prom) == 0 {
			if quietSince.IsZero() {
				quietSince = time.Now()
			}
			if time.Since(quietSince) >= 3*time.Second { // three evaluations
				break
			}
		} else {
			quietSince = time.Time{}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the heartbeats never showed in Prometheus with the alert quiet (increase: %+v, firing: %d)", data.Result, firingVolumeAlerts(t, prom))
		}
		time.Sleep(250 * time.Millisecond)
	}

	// The heartbeats stop: within the one-minute window and a few
	// evaluations the alert fires, and Alertmanager delivers it to the
	// receiver of webhook-e2e.
	stop()
	stoppedAt := time.Now()
	t.Logf("heartbeats stopped %.1fs after the start", stoppedAt.Sub(start).Seconds())
	timeout := time.After(100 * time.Second)
	for {
		select {
		case m := <-messages:
			for _, a := range m.Alerts {
				if a.Status != "firing" || a.Labels["alertname"] != "EsmTrafficVolume" || !a.StartsAt.After(stoppedAt) {
					continue // the alert of the first scrapes, or its resolution
				}
				require.Equal(t, alertmanager.ReceiverName("prod", "webhook-e2e"), m.Receiver)
				require.Equal(t, e2eMonitor, a.Labels[alertmanager.MonitorLabel])
				require.Equal(t, "Heartbeat", a.Labels["event_type"])
				require.Equal(t, "prod", a.Labels[alertmanager.EnvLabel])
				require.Equal(t, "critical", a.Labels[alertmanager.SeverityLabel])
				require.Contains(t, a.Labels[alertmanager.ChannelsLabel], ",webhook-e2e,")
				t.Logf("alert delivered %.1fs after the heartbeats stopped, %.1fs after the start",
					time.Since(stoppedAt).Seconds(), time.Since(start).Seconds())
				return
			}
		case <-timeout:
			t.Fatalf("no EsmTrafficVolume alert reached the webhook within 100s of the heartbeats stopping (Prometheus firing: %d)", firingVolumeAlerts(t, prom))
		}
	}
}
