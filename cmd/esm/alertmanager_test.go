package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/alertmanager"
	"github.com/esm-dev/esm/internal/prometheus"
)

// "esm alertmanager" on the example repository, from its root: the
// configuration and schemas found there, the fragment on standard output.
func TestAlertmanagerExampleGolden(t *testing.T) {
	var fragment string
	t.Run("run", func(t *testing.T) {
		t.Chdir(exampleRepo(t))
		r := runESM(t, "alertmanager", "--env", "prod")
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		assert.Empty(t, r.stderr)
		fragment = r.stdout

		// --merge prints a whole configuration; --secrets-dir moves the files.
		base := filepath.Join(t.TempDir(), "am.yml")
		require.NoError(t, os.WriteFile(base, []byte("route:\n  receiver: default\nreceivers:\n  - name: default\n"), 0o644))
		r = runESM(t, "alertmanager", "--env", "prod", "--merge", base, "--secrets-dir", "/run/am")
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, "route:\n  receiver: default\n  routes:\n"), "%s", r.stdout)
		assert.Contains(t, r.stdout, "routing_key_file: /run/am/pagerduty-cart.routing_key")
		assert.Contains(t, r.stdout, "  - name: default\n  - name: esm-prod-pagerduty-cart\n")
	})
	golden(t, "alertmanager-prod.yaml", []byte(fragment))
}

func TestAlertmanagerWarningsAndWebhookURL(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		".git/HEAD": "",
		"schemas/a.avdl": `@namespace("x") protocol P {
  @alert_channel({"critical": "webhook-a", "recovery": "team-later"})
  @traffic_volume_monitor({})
  record A { string id; }
}
`,
	})
	t.Chdir(dir)
	r := runESM(t, "alertmanager", "--env", "staging", "--webhook-url", "webhook-a=https://hooks.example.com/a")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, `schemas/a.avdl:3:3: warning: channel "team-later" is named only under recovery or no_data: Alertmanager sends a receiver an alert when it fires, not only when it resolves, and Prometheus rules have no no-data state; it gets no receiver`+"\n", r.stderr)
	assert.Contains(t, r.stdout, "        - receiver: esm-staging-webhook-a\n          matchers:\n            - esm_channels=~\".*,webhook-a,.*\"\n            - severity=\"critical\"\n")
	assert.Contains(t, r.stdout, "url: https://hooks.example.com/a\n")
	assert.Contains(t, r.stdout, `- env="staging"`)
	assert.NotContains(t, r.stdout, "team-later")
}

func TestAlertmanagerErrors(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		".git/HEAD":        "",
		"schemas/a.avdl":   `@namespace("x") protocol P { @alert_channel("webhook-a") @traffic_volume_monitor({}) record A { string id; } }`,
		"bad/b.avdl":       `@namespace("x") protocol P { @traffic_volume_monitor({"below": -1}) record B { string id; } }`,
		"base/noroute.yml": "receivers: []\n",
	})
	t.Chdir(dir)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no env", []string{"alertmanager"}, "esm: --env is required: the environment whose alerts to route, such as prod\nRun 'esm alertmanager --help' for usage.\n"},
		{"unknown env", []string{"alertmanager", "--env", "qa"}, "esm: "},
		{"webhook-url form", []string{"alertmanager", "--env", "prod", "--webhook-url", "webhook-a"}, `esm: --webhook-url wants CHANNEL=URL, not "webhook-a"` + "\n"},
		{"webhook-url twice", []string{"alertmanager", "--env", "prod", "--webhook-url", "webhook-a=http://x", "--webhook-url", "webhook-a=http://y"}, "esm: --webhook-url gives channel webhook-a twice\n"},
		{"webhook-url channel", []string{"alertmanager", "--env", "prod", "--webhook-url", "webhook-b=http://x"}, `esm: webhook URL for channel "webhook-b": no schema names it as a webhook channel`},
		{"webhook-url URL", []string{"alertmanager", "--env", "prod", "--webhook-url", "webhook-a=x"}, `esm: webhook URL for channel "webhook-a": "x" is not an absolute http or https URL`},
		{"schema error", []string{"alertmanager", "--env", "prod", "bad"}, "bad/b.avdl:1:"},
		{"missing path", []string{"alertmanager", "--env", "prod", "nowhere"}, "nowhere: "},
		{"merge file missing", []string{"alertmanager", "--env", "prod", "--merge", "none.yml"}, "esm: read --merge file: open none.yml:"},
		{"merge without route", []string{"alertmanager", "--env", "prod", "--merge", "base/noroute.yml"}, "esm: base/noroute.yml: no root route"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runESM(t, tt.args...)
			assert.Equal(t, exitFailure, r.code)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, tt.want)
		})
	}
}

// TestAlertmanagerRoutesTheKindsPrometheusRenders: the kinds whose
// channels get routes are those the Prometheus backend renders, the query
// monitors' included, and no others.
func TestAlertmanagerRoutesTheKindsPrometheusRenders(t *testing.T) {
	params := map[string]string{ // what each kind needs beyond its defaults
		annotations.LogAnnotation:             `{"above": 5}`,
		annotations.QueryThresholdKind:        `{"below": 1}`,
		annotations.TrafficForecastAnnotation: `{"below": 100}`,
	}
	tg := annotations.Target{Record: "A", FullName: "x.A", File: "a.avdl", Env: annotations.Environment{Name: "prod", EnvTag: "prod"},
		Query: &annotations.QueryTarget{Name: "a"}}
	kinds := append(annotations.Kinds(), annotations.QueryKinds()...)
	require.NotEmpty(t, kinds)
	for _, k := range kinds {
		p, ok := params[k.Annotation()]
		if !ok {
			p = `{}`
		}
		s, err := k.Spec(tg, []annotations.Layer{{Source: k.Annotation(), Params: json.RawMessage(p)}})
		require.NoError(t, err, k.Annotation())
		_, err = prometheus.Render(s)
		assert.Equal(t, err == nil, alertmanager.HasPrometheusForm(k.Annotation()), "%s: %v", k.Annotation(), err)
	}
}
