package prometheus

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/metrics"
	"github.com/esm-dev/esm/internal/monitor"
)

// foreignGroup is a group someone wrote by hand in esm's file: esm keeps it.
const foreignGroup = `groups:
  - name: hand-written
    interval: 30s
    rules:
      - alert: CartDown
        expr: up{job="cart"} == 0
        for: 5m
        labels:
          severity: page
`

func newStore(t *testing.T, dir, url string) *Store {
	t.Helper()
	s, err := New(Config{Dir: dir, Env: "prod", URL: url})
	require.NoError(t, err)
	return s
}

func volumeDefs(t *testing.T, params string) []monitor.Definition {
	t.Helper()
	defs, err := Render(spec(t, annotations.TrafficVolume(), target(), params))
	require.NoError(t, err)
	return defs
}

func TestStoreMissingFileHoldsNothing(t *testing.T) {
	s := newStore(t, t.TempDir(), "")
	got, err := s.List(context.Background(), monitor.EnvTag("prod"))
	require.NoError(t, err)
	assert.Empty(t, got)
	notes, err := s.Commit(context.Background())
	require.NoError(t, err)
	assert.Empty(t, notes, "nothing changed: nothing written")
	_, err = os.Stat(s.Path())
	assert.True(t, os.IsNotExist(err))
}

// TestStoreRoundTrip: what Commit writes, List reads back as the same
// rules, with the environment's and the file's tags; a hand-written group
// and other files of the directory are left as they are.
func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	other := filepath.Join(dir, "team.rules.yml")
	require.NoError(t, os.WriteFile(other, []byte("groups: []\n"), 0o600))
	s := newStore(t, dir, "")
	require.NoError(t, os.WriteFile(s.Path(), []byte(foreignGroup), 0o644))

	got, err := s.List(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, got, "the hand-written group is not esm's")
	defs := volumeDefs(t, `{"below": 10, "warning": 50}`)
	for i := range defs {
		_, err := s.Create(ctx, &monitor.Monitor{Definition: defs[i]})
		require.NoError(t, err)
	}
	notes, err := s.Commit(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"wrote " + s.Path(), "Prometheus was not asked to reload its rules (no --prometheus-url): it reads them on SIGHUP or POST /-/reload"}, notes)

	data, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	assert.Contains(t, string(data), "  - name: hand-written\n    interval: 30s\n")
	info, err := os.Stat(other)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "other files are not touched")
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 2, "no temporary file left")

	again := newStore(t, dir, "")
	listed, err := again.List(ctx, monitor.EnvTag("prod"))
	require.NoError(t, err)
	require.Len(t, listed, 2)
	for i, m := range listed {
		assert.Equal(t, defs[i].Name, m.Name)
		assert.Equal(t, defs[i].Rule, m.Rule)
		assert.Equal(t, []string{"esm-prod", "esm_record:com.example.shop.addtocartevent", "esm_file:schemas/cart.avdl"}, m.Tags)
	}
	none, err := again.List(ctx, monitor.EnvTag("staging"))
	require.NoError(t, err)
	assert.Empty(t, none)
}

// TestStoreRecordsFollowTheGroup: the recording rules of an anomaly
// monitor are written before its alert and read back with it.
func TestStoreRecordsFollowTheGroup(t *testing.T) {
	ctx := context.Background()
	defs, err := Render(spec(t, annotations.TrafficAnomaly(), target(), `{}`))
	require.NoError(t, err)
	s := newStore(t, t.TempDir(), "")
	_, err = s.List(ctx, "")
	require.NoError(t, err)
	_, err = s.Create(ctx, &monitor.Monitor{Definition: defs[0]})
	require.NoError(t, err)
	_, err = s.Commit(ctx)
	require.NoError(t, err)
	listed, err := newStore(t, filepath.Dir(s.Path()), "").List(ctx, "")
	require.NoError(t, err)
	require.Len(t, listed, 1)
	assert.Equal(t, defs[0].Rule.Records, listed[0].Rule.Records)
	assert.Len(t, listed[0].Rule.Records, 3)
}

func TestStoreUpdateDelete(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newStore(t, dir, "")
	_, err := s.List(ctx, "")
	require.NoError(t, err)
	for _, d := range volumeDefs(t, `{"below": 10, "warning": 50}`) {
		_, err := s.Create(ctx, &monitor.Monitor{Definition: d})
		require.NoError(t, err)
	}
	_, err = s.Commit(ctx)
	require.NoError(t, err)

	listed, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Len(t, listed, 2)
	changed := volumeDefs(t, `{"below": 20}`)[0]
	require.NoError(t, s.Update(ctx, listed[0].ID, &monitor.Monitor{Definition: changed}))
	require.NoError(t, s.Delete(ctx, listed[1].ID))
	require.NoError(t, s.Delete(ctx, 99), "a rule that is gone is no error")
	assert.ErrorContains(t, s.Update(ctx, 99, &monitor.Monitor{Definition: changed}), "no rule 99")
	_, err = s.Commit(ctx)
	require.NoError(t, err)

	listed, err = s.List(ctx, "")
	require.NoError(t, err)
	require.Len(t, listed, 1)
	assert.Equal(t, changed.Rule.Expr, listed[0].Rule.Expr)
}

func TestStoreRefusesDatadogMonitors(t *testing.T) {
	s := newStore(t, t.TempDir(), "")
	_, err := s.Create(context.Background(), &monitor.Monitor{Definition: monitor.Definition{Name: "x", Query: "q"}})
	assert.EqualError(t, err, `create rule "x": not an alerting rule`)
}

func TestStoreBadFile(t *testing.T) {
	s := newStore(t, t.TempDir(), "")
	require.NoError(t, os.WriteFile(s.Path(), []byte("groups:\n  - name: [x\n"), 0o644))
	_, err := s.List(context.Background(), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "list rules: "+s.Path()+": ")

	require.NoError(t, os.WriteFile(s.Path(), []byte("groups:\n  - name: x\n    rules: 3\n"), 0o644))
	_, err = s.List(context.Background(), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), s.Path()+":2:5: group: ")
}

func TestNewStoreErrors(t *testing.T) {
	_, err := New(Config{Dir: "rules", Env: "../prod"})
	assert.EqualError(t, err, `environment "../prod" cannot name a rules file`)
	_, err = New(Config{Env: "prod"})
	assert.ErrorContains(t, err, "needs a rules directory")
}

// TestStoreReload: after writing, Commit POSTs /-/reload and says whether
// Prometheus reloaded; a refusal is a note, and the file is written.
func TestStoreReload(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"reloaded", http.StatusOK, "", "Prometheus at URL reloaded its rules"},
		{"lifecycle off", http.StatusForbidden, "Lifecycle API is not enabled.", "Prometheus did not reload its rules: POST URL/-/reload answered 403 Forbidden: Lifecycle API is not enabled. (start Prometheus with --web.enable-lifecycle)"},
		{"bad rules", http.StatusInternalServerError, "failed to reload config: one or more errors occurred while applying the new configuration", "Prometheus did not reload its rules: POST URL/-/reload answered 500 Internal Server Error: failed to reload config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/-/reload" {
					http.Error(w, "Only POST or PUT requests allowed", http.StatusMethodNotAllowed)
					return
				}
				calls.Add(1)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			s := newStore(t, t.TempDir(), srv.URL+"/")
			ctx := context.Background()
			_, err := s.List(ctx, "")
			require.NoError(t, err)
			_, err = s.Create(ctx, &monitor.Monitor{Definition: volumeDefs(t, `{}`)[0]})
			require.NoError(t, err)
			notes, err := s.Commit(ctx)
			require.NoError(t, err)
			require.Len(t, notes, 2)
			assert.Contains(t, notes[1], strings.ReplaceAll(tt.want, "URL", srv.URL))
			assert.Equal(t, int32(1), calls.Load())
			_, err = os.Stat(s.Path())
			assert.NoError(t, err)
		})
	}
}

func TestStoreLock(t *testing.T) {
	s := newStore(t, t.TempDir(), "")
	unlock, err := s.Lock(context.Background())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Lock(ctx)
	assert.ErrorIs(t, err, context.Canceled, "a held lock waits")
	unlock()
	unlock() // more than once is fine
	again, err := s.Lock(ctx)
	require.NoError(t, err, "a free lock is taken even with a done context")
	again()
}

// TestMetricNames: the rules query the collector's counters.
func TestMetricNames(t *testing.T) {
	assert.Equal(t, metrics.ReceivedName, ReceivedMetric)
	assert.Equal(t, metrics.RejectedName, RejectedMetric)
}

// TestStorePrometheusRule: --format prometheusrule writes the same groups
// as a PrometheusRule object; metadata written by hand (a label the
// Operator's ruleSelector matches) is kept, and promtool accepts the
// groups.
func TestStorePrometheusRule(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, Env: "prod", Format: FormatPrometheusRule})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "esm-prod.prometheusrule.yaml"), s.Path())
	_, err = s.List(ctx, "")
	require.NoError(t, err)
	for _, d := range volumeDefs(t, `{"below": 10, "warning": 50}`) {
		_, err := s.Create(ctx, &monitor.Monitor{Definition: d})
		require.NoError(t, err)
	}
	notes, err := s.Commit(ctx)
	require.NoError(t, err)
	assert.Contains(t, notes[1], "the Prometheus Operator loads the PrometheusRule")
	data, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	golden := filepath.Join("testdata", "prometheusrule.yaml")
	if *update {
		require.NoError(t, os.WriteFile(golden, data, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(data))

	// Metadata of one's own survives the next apply.
	edited := strings.Replace(string(data), "    app.kubernetes.io/managed-by: esm\n", "    app.kubernetes.io/managed-by: esm\n    release: prometheus\n", 1)
	require.NoError(t, os.WriteFile(s.Path(), []byte(edited), 0o644))
	listed, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Len(t, listed, 2)
	require.NoError(t, s.Delete(ctx, listed[1].ID))
	_, err = s.Commit(ctx)
	require.NoError(t, err)
	data, err = os.ReadFile(s.Path())
	require.NoError(t, err)
	assert.Contains(t, string(data), "    release: prometheus\n")
	assert.NotContains(t, string(data), "severity: warning")

	var obj struct {
		Spec struct {
			Groups []ruleGroup `yaml:"groups"`
		} `yaml:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(data, &obj))
	rules, err := yaml.Marshal(map[string]any{"groups": obj.Spec.Groups})
	require.NoError(t, err)
	promtool := needTool(t, "promtool")
	f := filepath.Join(t.TempDir(), "groups.rules.yml")
	require.NoError(t, os.WriteFile(f, rules, 0o644))
	out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
	require.NoError(t, err, "%s", out)

	_, err = New(Config{Dir: dir, Env: "prod", Format: FormatPrometheusRule, URL: "http://x"})
	assert.ErrorContains(t, err, "drop the URL")
	_, err = New(Config{Dir: dir, Env: "prod", Format: "jsonnet"})
	assert.EqualError(t, err, `rules format "jsonnet" is not one esm writes; use rules or prometheusrule`)
	require.NoError(t, os.WriteFile(s.Path(), []byte("apiVersion: v1\nkind: ConfigMap\n"), 0o644))
	_, err = s.List(ctx, "")
	assert.ErrorContains(t, err, `kind "ConfigMap" is not PrometheusRule`)
}

func TestStoreRefusesHugeFile(t *testing.T) {
	s := newStore(t, t.TempDir(), "")
	require.NoError(t, os.WriteFile(s.Path(), make([]byte, MaxFileSize+1), 0o644))
	_, err := s.List(context.Background(), "")
	assert.EqualError(t, err, "list rules: "+s.Path()+": the file is larger than 16 MiB: esm does not read it")
}

// TestStoreCommitFailureForgetsTheChanges: a Commit that cannot write
// fails, and the next run starts from the file, not from the lost
// changes.
func TestStoreCommitFailureForgetsTheChanges(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "rules")
	s := newStore(t, dir, "")
	_, err := s.List(ctx, "")
	require.NoError(t, err)
	_, err = s.Create(ctx, &monitor.Monitor{Definition: volumeDefs(t, `{}`)[0]})
	require.NoError(t, err)
	// The directory cannot be made: a file has its name.
	require.NoError(t, os.WriteFile(dir, []byte("not a directory"), 0o644))
	_, err = s.Commit(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "write rules: ")
	require.NoError(t, os.Remove(dir))
	got, err := s.List(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, got)
	notes, err := s.Commit(ctx)
	require.NoError(t, err)
	assert.Empty(t, notes, "nothing left to write")
}
