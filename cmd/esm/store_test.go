package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/datadog"
	"github.com/esm-dev/esm/internal/datadog/ddtest"
	"github.com/esm-dev/esm/internal/github/ghtest"
	"github.com/esm-dev/esm/internal/localstore"
)

func TestOpenStore(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")
	localDesc := "the local state store " + filepath.Join(stateDir, "prod.json") + " (set DD_API_KEY and DD_APP_KEY to use Datadog)"
	tests := []struct {
		name     string
		env      string
		vars     map[string]string
		wantDesc string
		wantType any
		wantErr  string
	}{
		{name: "no keys: local", env: "prod", wantDesc: localDesc, wantType: &localstore.Store{}},
		{name: "blank keys: local", env: "prod", vars: map[string]string{envAPIKey: " ", envAppKey: ""}, wantDesc: localDesc, wantType: &localstore.Store{}},
		{name: "both keys: Datadog", env: "prod", vars: map[string]string{envAPIKey: "k", envAppKey: "a"},
			wantDesc: "Datadog at datadoghq.com", wantType: &datadog.Store{}},
		{name: "site", env: "prod", vars: map[string]string{envAPIKey: "k", envAppKey: "a", envSite: "datadoghq.eu"},
			wantDesc: "Datadog at datadoghq.eu", wantType: &datadog.Store{}},
		{name: "URL wins over site", env: "prod", vars: map[string]string{envAPIKey: "k", envAppKey: "a", envSite: "datadoghq.eu", envDatadogURL: "http://127.0.0.1:8126"},
			wantDesc: "Datadog at http://127.0.0.1:8126", wantType: &datadog.Store{}},
		{name: "API key only", env: "prod", vars: map[string]string{envAPIKey: "k"},
			wantErr: "DD_API_KEY is set but DD_APP_KEY is not: set both to use Datadog, or neither to use the local state store"},
		{name: "app key only", env: "prod", vars: map[string]string{envAppKey: "a"},
			wantErr: "DD_APP_KEY is set but DD_API_KEY is not"},
		{name: "env that is a path", env: "../prod", wantErr: `environment "../prod" cannot name a state file`},
		{name: "hidden env", env: ".prod", wantErr: `environment ".prod" cannot name a state file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.vars[k] }
			b, err := openStore(tt.env, stateDir, getenv)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantDesc, b.Description)
			assert.IsType(t, tt.wantType, b.Store)
			require.NotNil(t, b.Render, "every backend renders")
		})
	}
	assert.NoDirExists(t, stateDir, "opening the local store creates nothing")
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestPlanNeverPrintsCredentialsOfURLs(t *testing.T) {
	dd := ddtest.NewServer(t)
	ddHost := strings.TrimPrefix(dd.URL, "http://")
	closed := closedPort(t)
	tests := []struct {
		name     string
		url      string
		wantCode int
		want     string // in stderr, with the credentials hidden
	}{
		{name: "Datadog answers", url: "http://user:secret@" + ddHost, wantCode: exitChanges, want: "using Datadog at http://user:xxxxx@" + ddHost},
		{name: "Datadog unreachable", url: "http://user:secret@" + closed, wantCode: exitFailure, want: "connection refused"},
		{name: "token as user name, unreachable", url: "http://secret@" + closed, wantCode: exitFailure, want: "http://xxxxx@" + closed},
		{name: "URL that does not parse", url: "http://user:secret@" + closed + "x", wantCode: exitFailure, want: "http://xxxxx@" + closed + "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envAPIKey, "dd-api")
			t.Setenv(envAppKey, "dd-app")
			t.Setenv(envSite, "")
			t.Setenv(envDatadogURL, tt.url)
			r := runESM(t, "plan", "--env", "prod", "--detailed-exitcode", "../../schemas")
			assert.Equal(t, tt.wantCode, r.code, r.stderr)
			assert.Contains(t, r.stderr, tt.want)
			assert.NotContains(t, r.stdout+r.stderr, "secret")
		})
	}
}

func TestServeNeverPrintsCredentialsOfURLs(t *testing.T) {
	for _, creds := range []string{"user:secret@", "secret@"} {
		t.Run(creds, func(t *testing.T) {
			gh := ghtest.NewServer(t)
			ddURL := "http://" + creds + closedPort(t)
			var logs lockedBuffer
			vars := map[string]string{
				envWebhookSecret: e2eSecret, envAllowedRepos: "runatlantis/*",
				envGitHubToken: "ghp_test", envGitHubURL: strings.Replace(gh.URL, "http://", "http://"+creds, 1),
				envAPIKey: "dd-api", envAppKey: "dd-app", envDatadogURL: ddURL,
			}
			bc, err := testBotConfig(map[string]string{"state-dir": t.TempDir()}, vars)
			require.NoError(t, err)
			cfg := testServeConfig("")
			cfg.bot, cfg.log = bc, slog.New(slog.NewJSONHandler(&logs, nil))
			cfg.ddAPIKey, cfg.ddURL = "dd-api", ddURL
			base, stop := startServer(t, cfg)

			resp, err := http.Get(base + "/readyz")
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			assert.Contains(t, string(body), "store prod: validate API key")
			assert.NotContains(t, string(body), "secret")

			// A rejected event makes the Datadog event client post, and fail.
			status, _ := httpPost(t, base+"/v1/events/AddToCartEvent", `{}`)
			assert.Equal(t, http.StatusBadRequest, status)
			require.NoError(t, stop())
			assert.Contains(t, logs.String(), "send Datadog event")
			assert.NotContains(t, logs.String(), "secret")
		})
	}
}
