package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/esm-dev/esm/internal/localstore"
	"github.com/esm-dev/esm/internal/monitor"
)

// The environment variables that select and configure the Datadog store.
const (
	envAPIKey     = "DD_API_KEY"
	envAppKey     = "DD_APP_KEY"
	envSite       = "DD_SITE"
	envDatadogURL = "ESM_DATADOG_URL"
)

// openStore returns the monitor store of env and a description of it for
// people: the local state file <stateDir>/<env>.json. Datadog, when
// DD_API_KEY and DD_APP_KEY are both set, is still to come. Only one of the two keys set is an
// error naming the missing one. getenv is os.Getenv, or a fake in tests.
func openStore(env, stateDir string, getenv func(string) string) (monitor.Store, string, error) {
	apiKey := strings.TrimSpace(getenv(envAPIKey))
	appKey := strings.TrimSpace(getenv(envAppKey))
	switch {
	case apiKey != "" && appKey != "":
		// TODO(datadog): open the Datadog store here with datadog.New once
		// internal/datadog lands; until then both keys set is an error
		// rather than a silent fall-back to the local store.
		return nil, "", fmt.Errorf("%s and %s are set, but this esm cannot use Datadog yet: unset them to use the local state store", envAPIKey, envAppKey)
	case apiKey != "":
		return nil, "", fmt.Errorf("%s is set but %s is not: set both to use Datadog, or neither to use the local state store", envAPIKey, envAppKey)
	case appKey != "":
		return nil, "", fmt.Errorf("%s is set but %s is not: set both to use Datadog, or neither to use the local state store", envAppKey, envAPIKey)
	}
	// The environment's name becomes a file name: it must stay one.
	if env == "" || env != filepath.Base(env) || strings.HasPrefix(env, ".") {
		return nil, "", fmt.Errorf("environment %q cannot name a state file", env)
	}
	path := filepath.Join(stateDir, env+".json")
	s, err := localstore.Open(path)
	if err != nil {
		return nil, "", err
	}
	return s, fmt.Sprintf("the local state store %s (set %s and %s to use Datadog)", path, envAPIKey, envAppKey), nil
}
