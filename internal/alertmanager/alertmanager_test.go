package alertmanager

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/idl"
	"github.com/esm-dev/esm/internal/reconcile"
	"github.com/esm-dev/esm/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update ./internal/alertmanager/ to create it", t.Name())
	assert.Equal(t, string(want), string(got), "%s differs; rerun with -update if the change is intended", path)
}

// tool returns the path of the first of names on PATH (testenv.Tool).
func tool(t *testing.T, names ...string) string {
	t.Helper()
	return testenv.Tool(t, "Debian: apt-get install prometheus-alertmanager", names...)
}

// minimalConfig is the smallest Alertmanager configuration a fragment
// merges into: a root route with a default receiver.
const minimalConfig = `route:
  receiver: default
receivers:
  - name: default
`

// smtpSettings are what e-mail receivers need besides (the fragment says
// so).
const smtpSettings = `global:
  smtp_smarthost: localhost:25
  smtp_from: alertmanager@example.com
`

// exampleSpecs are the specs of the repository's example schemas in env,
// with the built-in configuration.
func exampleSpecs(t *testing.T, env string) []annotations.Spec {
	t.Helper()
	specs, diags, err := reconcile.Specs(context.Background(), config.Default(), env, []string{"../../schemas"}, idl.Options{})
	require.NoError(t, err)
	require.False(t, diags.HasErrors(), "%v", diags)
	require.NotEmpty(t, specs)
	return specs
}

// spec is a monitor of kind on record with channels.
func spec(kind, record string, c annotations.Channels) annotations.Spec {
	return annotations.Spec{
		Kind: kind, Name: "Monitor of " + record,
		Pos:    annotations.Position{File: "schemas/x.avdl", Line: 3, Column: 1},
		Target: annotations.Target{Record: record, Env: annotations.Environment{Name: "prod", EnvTag: "prod"}, Channels: c},
	}
}

// at returns s with its annotation on line.
func at(s annotations.Spec, line int) annotations.Spec {
	s.Pos.Line = line
	return s
}

// channelForms is one record per form of channel, and the forms mixed by
// severity, with names whose characters are special in a regexp or in a
// matcher's quotes.
func channelForms() []annotations.Spec {
	vol := annotations.TrafficVolumeAnnotation
	return []annotations.Spec{
		spec(vol, "Slack", annotations.Channels{Always: []string{"team-cart", " team-cart "}}),
		spec(vol, "SlackPrefix", annotations.Channels{Always: []string{"slack-cart"}}),
		spec(vol, "PagerDuty", annotations.Channels{Critical: []string{"pagerduty-payments"}, Warning: []string{"slack-payments"}}),
		spec(vol, "Opsgenie", annotations.Channels{Always: []string{"opsgenie-core"}}),
		spec(vol, "VictorOps", annotations.Channels{Always: []string{"victorops-routing"}}),
		spec(vol, "Email", annotations.Channels{Always: []string{"ops@example.com"}, Recovery: []string{"ops@example.com"}}),
		spec(vol, "EmailPrefix", annotations.Channels{Critical: []string{"email-oncall@example.com"}}),
		spec(vol, "Webhook", annotations.Channels{Always: []string{"webhook-foo"}}),
		spec(vol, "Teams", annotations.Channels{Always: []string{"teams-core"}}),
		spec(vol, "Handle", annotations.Channels{Always: []string{"@ops"}}),
		spec(vol, "Dots", annotations.Channels{Always: []string{"team.cart"}}),
		spec(vol, "Quote", annotations.Channels{Always: []string{`we"ird\name`}}),
		spec(vol, "Recovery", annotations.Channels{Warning: []string{"team-cart"}, Recovery: []string{"slack-cart"}}),
		// slack-cart only under recovery here, always above: it keeps its
		// receiver; only-recovery gets none.
		spec(vol, "OnlyRecovery", annotations.Channels{Critical: []string{"pagerduty-payments"}, Recovery: []string{"only-recovery"}, NoData: []string{"only-no-data"}}),
		at(spec(vol, "OnlyRecoveryLater", annotations.Channels{Recovery: []string{"only-recovery"}}), 9),
		// A log monitor has no Prometheus form: its channel gets nothing.
		spec(annotations.LogAnnotation, "Logs", annotations.Channels{Always: []string{"team-logs"}}),
	}
}

func TestExampleFragmentGolden(t *testing.T) {
	for _, env := range []string{"prod", "staging"} {
		t.Run(env, func(t *testing.T) {
			f, warnings, err := Build(exampleSpecs(t, env), Options{Env: env, EnvTag: env})
			require.NoError(t, err)
			assert.Empty(t, warnings)
			assert.False(t, f.NeedsSMTP, "no e-mail channel: the minimal configuration takes it as it is")
			out, err := f.YAML()
			require.NoError(t, err)
			golden(t, "example-"+env+".yaml", out)
		})
	}
}

func TestChannelFormsGolden(t *testing.T) {
	f, warnings, err := Build(channelForms(), Options{Env: "prod", EnvTag: "prod", SecretsDir: "/run/secrets/am/",
		WebhookURLs: map[string]string{"webhook-foo": "https://hooks.example.com/esm?token=from-the-flag"}})
	require.NoError(t, err)
	var got []string
	for _, w := range warnings {
		got = append(got, w.String())
	}
	assert.Equal(t, []string{
		`schemas/x.avdl:3:1: warning: channel "only-no-data" is named only under recovery or no_data: Alertmanager sends a receiver an alert when it fires, not only when it resolves, and Prometheus rules have no no-data state; it gets no receiver`,
		`schemas/x.avdl:3:1: warning: channel "only-recovery" is named only under recovery or no_data: Alertmanager sends a receiver an alert when it fires, not only when it resolves, and Prometheus rules have no no-data state; it gets no receiver`,
	}, got)
	out, err := f.YAML()
	require.NoError(t, err)
	golden(t, "channel-forms.yaml", out)
	assert.NotContains(t, string(out), "team-logs", "a log monitor's channel")

	// The order of the specs does not matter.
	reversed := channelForms()
	for i, j := 0, len(reversed)-1; i < j; i, j = i+1, j-1 {
		reversed[i], reversed[j] = reversed[j], reversed[i]
	}
	f2, warnings2, err := Build(reversed, Options{Env: "prod", EnvTag: "prod", SecretsDir: "/run/secrets/am/",
		WebhookURLs: map[string]string{"webhook-foo": "https://hooks.example.com/esm?token=from-the-flag"}})
	require.NoError(t, err)
	out2, err := f2.YAML()
	require.NoError(t, err)
	assert.Equal(t, string(out), string(out2))
	assert.Equal(t, warnings, warnings2)
}

func TestClassifyChannel(t *testing.T) {
	for _, tt := range []struct {
		channel, target string
		kind            Kind
	}{
		{"team-cart", "#team-cart", Slack},
		{" team-cart ", "#team-cart", Slack},
		{"slack-cart", "#cart", Slack},
		{"pagerduty-payments", "payments", PagerDuty},
		{"opsgenie-core", "core", Opsgenie},
		{"victorops-routing", "routing", VictorOps},
		{"ops@example.com", "ops@example.com", Email},
		{"email-oncall@example.com", "oncall@example.com", Email},
		{"email-list", "email-list", Webhook},
		{"webhook-foo", "webhook-foo", Webhook},
		{"teams-core", "teams-core", Webhook},
		{"jira-ops", "jira-ops", Webhook},
		{"@ops", "@ops", Webhook},
	} {
		t.Run(tt.channel, func(t *testing.T) {
			kind, target := ClassifyChannel(tt.channel)
			assert.Equal(t, tt.kind, kind)
			assert.Equal(t, tt.target, target)
		})
	}
}

func TestChannelsValue(t *testing.T) {
	c := annotations.Channels{Always: []string{"b", "a"}, Critical: []string{"c", "a"}, Warning: []string{"w"}, Recovery: []string{"r"}}
	for _, tt := range []struct {
		c              annotations.Channels
		severity, want string
	}{
		{c, "critical", ",a,b,c,"},
		{c, "warning", ",a,b,w,"},
		{annotations.Channels{Critical: []string{"p"}}, "warning", ""},
		{annotations.Channels{Always: []string{" a ", "a"}, Critical: []string{"  "}}, "critical", ",a,"},
		{annotations.Channels{}, "critical", ""},
	} {
		t.Run(tt.severity+tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, ChannelsValue(tt.c, tt.severity))
		})
	}
}

func TestMatcherQuotes(t *testing.T) {
	assert.Equal(t, `esm_channels=~".*,we\"ird\\\\name,.*"`, Matcher("esm_channels", "=~", `.*,we"ird\\name,.*`))
	assert.Equal(t, `env="a\nb"`, Matcher("env", "=", "a\nb"))
}

func TestBuildErrors(t *testing.T) {
	specs := channelForms()
	for _, tt := range []struct {
		name string
		urls map[string]string
		want string
	}{
		{"unknown channel", map[string]string{"webhook-bar": "http://x"}, `webhook URL for channel "webhook-bar": no schema names it as a webhook channel of a monitor with a Prometheus form`},
		{"not a webhook", map[string]string{"team-cart": "http://x"}, `webhook URL for channel "team-cart": no schema names it`},
		{"relative URL", map[string]string{"webhook-foo": "/hook"}, `webhook URL for channel "webhook-foo": "/hook" is not an absolute http or https URL`},
		{"other scheme", map[string]string{"webhook-foo": "ftp://x/y"}, `"ftp://x/y" is not an absolute http or https URL`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Build(specs, Options{Env: "prod", WebhookURLs: tt.urls})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestNoChannels(t *testing.T) {
	f, warnings, err := Build(nil, Options{Env: "dev"})
	require.NoError(t, err)
	assert.Empty(t, warnings)
	out, err := f.YAML()
	require.NoError(t, err)
	assert.Contains(t, string(out), "receivers: []\n")
	assert.NotContains(t, string(out), "env=", "no env tag: any env")
}

func TestMergeInto(t *testing.T) {
	f, _, err := Build(channelForms(), Options{Env: "prod", EnvTag: "prod"})
	require.NoError(t, err)
	out, err := f.MergeInto("am.yml", []byte("# mine\nroute:\n  receiver: default\n  routes:\n    - receiver: other\n      matchers: [team=\"x\"]\nreceivers:\n  - name: default\n  - name: other\n"))
	require.NoError(t, err)
	s := string(out)
	assert.Contains(t, s, "# mine")
	assert.Less(t, strings.Index(s, `esm_monitor=~".+"`), strings.Index(s, "- receiver: other"), "esm's route comes first")
	assert.Less(t, strings.Index(s, "- name: other"), strings.Index(s, "- name: esm-prod-team-cart"), "esm's receivers after yours")

	for _, tt := range []struct{ name, base, want string }{
		{"no mapping", "- a\n", "am.yml: not an Alertmanager configuration: no YAML mapping"},
		{"empty", "", "am.yml: not an Alertmanager configuration: no YAML mapping"},
		{"no route", "receivers: []\n", "am.yml: no root route"},
		{"bad yaml", "route: [\n", "am.yml: yaml:"},
		{"key twice", "route: {receiver: a}\nroute: {receiver: b}\n", `am.yml: yaml: unmarshal errors:`},
		{"duplicate receiver", "route:\n  receiver: default\nreceivers:\n  - name: default\n  - name: esm-prod-team-cart\n", `am.yml:5:11: receiver "esm-prod-team-cart" is already defined`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.MergeInto("am.yml", []byte(tt.base))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	// Empty routes: and receivers: are filled.
	out, err = f.MergeInto("am.yml", []byte("route:\n  receiver: default\n  routes:\nreceivers:\n"))
	require.NoError(t, err)
	assert.Contains(t, string(out), "esm-prod-team-cart")
}

// checkConfig runs amtool check-config on the fragment merged into the
// minimal configuration and returns the merged file.
func checkConfig(t *testing.T, amtool string, f *Fragment) string {
	t.Helper()
	base := minimalConfig
	if f.NeedsSMTP {
		base = smtpSettings + minimalConfig
	}
	merged, err := f.MergeInto("minimal.yml", []byte(base))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "alertmanager.yml")
	require.NoError(t, os.WriteFile(path, merged, 0o644))
	out, err := exec.Command(amtool, "check-config", path).CombinedOutput()
	require.NoError(t, err, "amtool check-config:\n%s\n%s", out, merged)
	return path
}

// routesTest returns the receivers amtool routes an alert with labels to.
func routesTest(t *testing.T, amtool, config string, labels map[string]string) []string {
	t.Helper()
	args := []string{"config", "routes", "test", "--config.file=" + config}
	for k, v := range labels {
		args = append(args, Matcher(k, "=", v))
	}
	cmd := exec.Command(amtool, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "amtool %s\n%s", strings.Join(args, " "), stderr.String())
	got := strings.Split(strings.TrimSpace(string(out)), ",")
	sort.Strings(got)
	return got
}

// The fragment passes amtool check-config, and amtool routes every alert
// the specs raise (each severity) to the receivers of exactly the
// channels in its esm_channels label, or to the default receiver when it
// has none.
func TestAmtoolAcceptsAndRoutes(t *testing.T) {
	amtool := tool(t, "amtool")
	for _, tt := range []struct {
		name  string
		specs []annotations.Spec
	}{
		{"example schemas", exampleSpecs(t, "prod")},
		{"channel forms", channelForms()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, _, err := Build(tt.specs, Options{Env: "prod", EnvTag: "prod"})
			require.NoError(t, err)
			path := checkConfig(t, amtool, f)
			for _, s := range tt.specs {
				if !HasPrometheusForm(s.Kind) {
					continue
				}
				for _, sev := range []string{"critical", "warning"} {
					value := ChannelsValue(s.Target.Channels, sev)
					var want []string
					for _, ch := range strings.Split(strings.Trim(value, ","), ",") {
						if ch != "" {
							want = append(want, ReceiverName("prod", ch))
						}
					}
					if len(want) == 0 {
						want = []string{"default"}
					}
					sort.Strings(want)
					labels := map[string]string{MonitorLabel: s.Name, EnvLabel: "prod", SeverityLabel: sev, ChannelsLabel: value}
					assert.Equal(t, want, routesTest(t, amtool, path, labels), "%s %s: esm_channels=%s", s.Name, sev, value)
				}
			}
			// Another environment's alerts and alerts not of esm's rules
			// stay with the default receiver.
			assert.Equal(t, []string{"default"}, routesTest(t, amtool, path, map[string]string{MonitorLabel: "m", EnvLabel: "staging", SeverityLabel: "critical", ChannelsLabel: ",team-cart,"}))
			assert.Equal(t, []string{"default"}, routesTest(t, amtool, path, map[string]string{"alertname": "Other", ChannelsLabel: ",team-cart,"}))
		})
	}
	// A dot is no wildcard: team.cart's receiver does not get teamXcart's.
	f, _, err := Build(channelForms(), Options{Env: "prod", EnvTag: "prod"})
	require.NoError(t, err)
	path := checkConfig(t, amtool, f)
	// The e-mail receivers need the SMTP settings, as the fragment says:
	// Alertmanager refuses them without.
	require.True(t, f.NeedsSMTP)
	out, err := f.YAML()
	require.NoError(t, err)
	assert.Contains(t, string(out), "# The e-mail receivers need global.smtp_smarthost and global.smtp_from.\n")
	merged, err := f.MergeInto("minimal.yml", []byte(minimalConfig))
	require.NoError(t, err)
	noSMTP := filepath.Join(t.TempDir(), "alertmanager.yml")
	require.NoError(t, os.WriteFile(noSMTP, merged, 0o644))
	check, err := exec.Command(amtool, "check-config", noSMTP).CombinedOutput()
	assert.Error(t, err)
	assert.Contains(t, string(check), "no global SMTP smarthost set")
	assert.Equal(t, []string{"default"}, routesTest(t, amtool, path, map[string]string{MonitorLabel: "m", EnvLabel: "prod", SeverityLabel: "critical", ChannelsLabel: ",teamXcart,"}))
}
