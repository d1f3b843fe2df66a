package main

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/webhook"
)

// logLines returns the JSON log lines of stderr with the given msg.
func logLines(t *testing.T, stderr, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
			out = append(out, line)
		}
	}
	return out
}

// TestServeSaysWhichRolesRun: one line at start names the roles, and for
// --role all, what the bot is missing and why the queries do not run.
func TestServeSaysWhichRolesRun(t *testing.T) {
	dir, _ := serveQueryFixture(t, map[string]string{"orders.yaml": ordersQuery})
	noDB := writeFiles(t, t.TempDir(), map[string]string{"esm.yaml": "require_alert_channel: false\n", "queries/q.yaml": ordersQuery})
	withQueries := []string{"--queries", filepath.Join(dir, "queries"), "--config", filepath.Join(dir, "esm.yaml")}
	tests := []struct {
		name    string
		role    string
		args    []string
		roles   []any
		bot     string // the bot field, "" when absent
		queries string // the queries field, "" when absent
	}{
		{name: "collector", role: "collector", args: withQueries, roles: []any{"collector"}},
		{name: "all without the bot's settings", role: "all", roles: []any{"collector"},
			bot:     "off: ESM_WEBHOOK_SECRET, ESM_ALLOWED_REPOS and GITHUB_TOKEN or ESM_GITHUB_APP_ID are not set",
			queries: "off: no query files under queries"},
		{name: "queries", role: "queries", args: withQueries, roles: []any{"queries"}},
		{name: "all with query files and databases", role: "all", args: withQueries, roles: []any{"collector", "queries"},
			bot: "off: ESM_WEBHOOK_SECRET, ESM_ALLOWED_REPOS and GITHUB_TOKEN or ESM_GITHUB_APP_ID are not set"},
		{name: "all without databases", role: "all", args: []string{"--queries", filepath.Join(noDB, "queries"), "--config", filepath.Join(noDB, "esm.yaml")}, roles: []any{"collector"},
			bot:     "off: ESM_WEBHOOK_SECRET, ESM_ALLOWED_REPOS and GITHUB_TOKEN or ESM_GITHUB_APP_ID are not set",
			queries: "off: esm.yaml declares no databases"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"ESM_WEBHOOK_SECRET", "ESM_ALLOWED_REPOS", "ESM_GITHUB_APP_ID", "GITHUB_TOKEN", "ESM_QUERIES", "ESM_CONFIG"} {
				t.Setenv(k, "")
			}
			// An unknown environment stops the server after the settings
			// are read.
			args := append([]string{"serve", "--role", tt.role, "--statsd", "off", "--env", "moon", "--listen", "127.0.0.1:0", "--schemas", "../../schemas"}, tt.args...)
			r := runESM(t, args...)
			assert.Equal(t, exitFailure, r.code)
			lines := logLines(t, r.stderr, "esm serve roles")
			require.Len(t, lines, 1, r.stderr)
			assert.Equal(t, tt.roles, lines[0]["roles"])
			for field, want := range map[string]string{"bot": tt.bot, "queries": tt.queries} {
				if want == "" {
					assert.NotContains(t, lines[0], field)
				} else {
					assert.Equal(t, want, lines[0][field])
				}
			}
		})
	}
}

// TestServeWarnsOfUnknownVariables: a mistyped ESM_* variable is named
// with the closest known setting, instead of silently running without it.
func TestServeWarnsOfUnknownVariables(t *testing.T) {
	tests := []struct {
		variable, closest string
	}{
		{"ESM_WEBHOOK_SECRETS", "ESM_WEBHOOK_SECRET"},
		{"ESM_ALLOWED_REPO", "ESM_ALLOWED_REPOS"},
		{"ESM_READTIMEOUT", "ESM_READ_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.variable, func(t *testing.T) {
			for _, k := range []string{"ESM_WEBHOOK_SECRET", "ESM_ALLOWED_REPOS", "ESM_GITHUB_APP_ID"} {
				t.Setenv(k, "")
			}
			t.Setenv(tt.variable, "x")
			r := runESM(t, "serve", "--statsd", "off", "--env", "moon", "--listen", "127.0.0.1:0", "--schemas", "../../schemas")
			assert.Equal(t, exitFailure, r.code)
			lines := logLines(t, r.stderr, "unknown ESM_ environment variable")
			require.Len(t, lines, 1, r.stderr)
			assert.Equal(t, tt.variable, lines[0]["name"])
			assert.Equal(t, tt.closest, lines[0]["closest"])
			assert.NotContains(t, r.stderr, `"x"`, "the value is not logged")
		})
	}
}

// TestServeRequireApprovalIsABooleanFlag: --require-approval alone means
// true, and the environment keeps taking what strconv.ParseBool takes.
func TestServeRequireApprovalIsABooleanFlag(t *testing.T) {
	cmd := (&app{}).serveCmd()
	require.NoError(t, cmd.ParseFlags([]string{"--require-approval"}))
	f := cmd.Flags().Lookup("require-approval")
	require.NotNil(t, f)
	assert.Equal(t, "true", f.Value.String())
	assert.Equal(t, "bool", f.Value.Type())
	assert.Equal(t, "false", f.DefValue)
}

// TestBotGitHubURLMustBeAURL: ESM_GITHUB_URL is checked at start, and the
// error does not print it (it may hold credentials).
func TestBotGitHubURLMustBeAURL(t *testing.T) {
	for _, u := range []string{"github.example.com", "ftp://github.example.com", "https://", "http://user:secret@ghe example"} {
		t.Run(u, func(t *testing.T) {
			vars := map[string]string{
				envWebhookSecret: e2eSecret, envAllowedRepos: "runatlantis/*", envGitHubToken: "ghp_test", envGitHubURL: u,
			}
			_, err := testBotConfig(map[string]string{"state-dir": t.TempDir()}, vars)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "ESM_GITHUB_URL: is not an http or https URL")
			assert.NotContains(t, err.Error(), "secret")
		})
	}
}

// testBotConfig reads the bot's configuration as "esm serve --role bot"
// with the flags given (by name) and the environment vars.
func testBotConfig(flags, vars map[string]string) (*botConfig, error) {
	given := map[string]string{"role": "bot"}
	for k, v := range flags {
		given[k] = v
	}
	cfg, err := readServeConfig(given, func(k string) string { return vars[k] }, slog.New(slog.DiscardHandler))
	return cfg.bot, err
}

// TestServeSettingDefaultsMatchTheirPackages: the table's defaults are
// those the other packages and commands use.
func TestServeSettingDefaultsMatchTheirPackages(t *testing.T) {
	s, err := config.ReadServe(nil, func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, webhook.DefaultMaxCommentAge, s.Bot.MaxCommentAge)
	assert.Equal(t, defaultStateDir, s.Bot.StateDir)
}
