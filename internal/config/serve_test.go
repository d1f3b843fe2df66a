package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadServeOverrideRule(t *testing.T) {
	tests := []struct {
		name  string
		flags map[string]string
		env   map[string]string
		want  time.Duration
	}{
		{name: "default", want: 30 * time.Second},
		{name: "environment beats default", env: map[string]string{"ESM_READ_TIMEOUT": "10s"}, want: 10 * time.Second},
		{name: "flag beats environment", flags: map[string]string{"read-timeout": "5s"}, env: map[string]string{"ESM_READ_TIMEOUT": "10s"}, want: 5 * time.Second},
		{name: "empty variable counts as not set", env: map[string]string{"ESM_READ_TIMEOUT": ""}, want: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ReadServe(tt.flags, func(k string) string { return tt.env[k] })
			require.NoError(t, err)
			assert.Equal(t, tt.want, s.ReadTimeout)
		})
	}
}

func TestReadServeReportsEveryProblemAtOnce(t *testing.T) {
	env := map[string]string{"ESM_READ_TIMEOUT": "abc", "ESM_MAX_CONNECTIONS": "many", "ESM_LISTEN": "no-port"}
	flags := map[string]string{"role": "robot", "max-body": "lots", "rejection-burst": "0"}
	_, err := ReadServe(flags, func(k string) string { return env[k] })
	require.Error(t, err)
	for _, want := range []string{
		`--read-timeout / ESM_READ_TIMEOUT: "abc" is not a positive duration`,
		`--max-connections / ESM_MAX_CONNECTIONS: "many" is not a positive number`,
		`--listen / ESM_LISTEN: "no-port" is not host:port`,
		`--role / ESM_ROLE: "robot" is not collector, bot, queries or all`,
		`--max-body / ESM_MAX_BODY: "lots" is not a positive size`,
		`--rejection-burst / ESM_REJECTION_BURST: "0" is not a positive number`,
	} {
		assert.Contains(t, err.Error(), want)
	}
	var se *SettingError
	require.True(t, errors.As(err, &se))
}

func TestServeDefaultsParse(t *testing.T) {
	s, err := ReadServe(nil, func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, int64(1<<20), s.MaxBody)
	assert.Equal(t, int64(64<<20), s.MaxInflightBody)
	assert.Equal(t, 1024, s.MaxConnections)
	assert.Equal(t, []string{RoleCollector}, s.Roles())
	assert.Equal(t, "queries", s.Queries)
}

// TestServeRoles: which roles each --role runs; queries are wanted with
// queries and all (all runs them when there is something to run).
func TestServeRoles(t *testing.T) {
	tests := []struct {
		role      string
		env       map[string]string
		roles     []string
		collector bool
		queries   bool
	}{
		{role: "collector", roles: []string{RoleCollector}, collector: true},
		{role: "bot", env: map[string]string{"ESM_WEBHOOK_SECRET": "s", "ESM_ALLOWED_REPOS": "o/r", "GITHUB_TOKEN": "t"}, roles: []string{RoleBot}},
		{role: "queries", roles: nil, queries: true},
		{role: "all", roles: []string{RoleCollector}, collector: true, queries: true},
		{role: "all", env: map[string]string{"ESM_WEBHOOK_SECRET": "s", "ESM_ALLOWED_REPOS": "o/r", "GITHUB_TOKEN": "t"}, roles: []string{RoleCollector, RoleBot}, collector: true, queries: true},
	}
	for _, tt := range tests {
		t.Run(tt.role+fmt.Sprint(len(tt.env)), func(t *testing.T) {
			env := map[string]string{"ESM_ROLE": tt.role, "ESM_QUERIES": "/etc/esm/queries"}
			maps.Copy(env, tt.env)
			s, err := ReadServe(nil, func(k string) string { return env[k] })
			require.NoError(t, err)
			assert.Equal(t, tt.roles, s.Roles())
			assert.Equal(t, tt.collector, s.CollectorRuns())
			assert.Equal(t, tt.queries, s.QueriesWanted())
			assert.Equal(t, "/etc/esm/queries", s.Queries)
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1048576", 1 << 20, true}, {"1MiB", 1 << 20, true}, {"512KiB", 512 << 10, true}, {"10 B", 10, true},
		{"0", 0, false}, {"-1", 0, false}, {"1MB", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if !tt.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSecretsAreNotPrinted(t *testing.T) {
	env := map[string]string{"ESM_WEBHOOK_SECRET": "hush", "GITHUB_TOKEN": "hush", "ESM_GITHUB_URL": "http://u:hush@ghe example"}
	s, err := ReadServe(map[string]string{"role": "bot"}, func(k string) string { return env[k] })
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hush")
	assert.Equal(t, "xxxxx", s.Bot.WebhookSecret.String())
	assert.Equal(t, "hush", s.Bot.WebhookSecret.Reveal())
}

// TestREADMEListsEverySetting: the README's serve and bot tables have a
// row per setting with its name, flag, variable and default.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	rows := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) == 5 {
			rows[strings.Trim(strings.TrimSpace(cells[0]), "`")] = cells
		}
	}
	for _, st := range ServeSettings() {
		t.Run(st.Name, func(t *testing.T) {
			row, ok := rows[st.Name]
			require.True(t, ok, "no README row | `%s` | ...", st.Name)
			flag := ""
			if st.Flag != "" {
				flag = "`--" + st.Flag + "`"
			}
			assert.Equal(t, flag, strings.TrimSpace(row[1]))
			assert.Equal(t, "`"+st.Env+"`", strings.TrimSpace(row[2]))
			assert.True(t, strings.HasPrefix(strings.TrimSpace(row[3]), st.DocDefault()), "default %q, want %q", row[3], st.DocDefault())
		})
	}
}
