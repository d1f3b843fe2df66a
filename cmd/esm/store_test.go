package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/datadog"
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
			s, desc, err := openStore(tt.env, stateDir, getenv)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantDesc, desc)
			assert.IsType(t, tt.wantType, s)
		})
	}
	assert.NoDirExists(t, stateDir, "opening the local store creates nothing")
}
