package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/datadog"
	"github.com/esm-dev/esm/internal/localstore"
	"github.com/esm-dev/esm/internal/prometheus"
	"github.com/esm-dev/esm/internal/reconcile"
	"github.com/esm-dev/esm/internal/redact"
)

// The environment variables that select and configure the Datadog store.
const (
	envAPIKey     = "DD_API_KEY"
	envAppKey     = "DD_APP_KEY"
	envSite       = "DD_SITE"
	envDatadogURL = "ESM_DATADOG_URL"
)

// storeOption adjusts how openStore builds a store.
type storeOption func(*datadog.Config)

// withTransport sends the Datadog store's calls through rt (esm serve
// counts them per operation and status).
func withTransport(rt http.RoundTripper) storeOption {
	return func(c *datadog.Config) { c.HTTPClient = &http.Client{Transport: rt, Timeout: time.Minute} }
}

// openStore returns the backend of env — its store, the renderer of specs
// into the store's monitors, and a description for people: Datadog when DD_API_KEY and DD_APP_KEY are both set (DD_SITE
// names the site, ESM_DATADOG_URL a full base URL), otherwise the local
// state file <stateDir>/<env>.json. Only one of the two keys set is an
// error naming the missing one. getenv is os.Getenv, or a fake in tests.
func openStore(env, stateDir string, getenv func(string) string, opts ...storeOption) (reconcile.Backend, error) {
	apiKey := strings.TrimSpace(getenv(envAPIKey))
	appKey := strings.TrimSpace(getenv(envAppKey))
	switch {
	case apiKey != "" && appKey != "":
		cfg := datadog.Config{
			APIKey: apiKey,
			AppKey: appKey,
			Site:   strings.TrimSpace(getenv(envSite)),
			URL:    strings.TrimSpace(getenv(envDatadogURL)),
		}
		for _, o := range opts {
			o(&cfg)
		}
		s, err := datadog.New(cfg)
		if err != nil {
			return reconcile.Backend{}, fmt.Errorf("open the Datadog store: %w", err)
		}
		return reconcile.Backend{Render: datadog.Render, Store: s, Description: "Datadog at " + datadogEndpoint(cfg)}, nil
	case apiKey != "":
		return reconcile.Backend{}, fmt.Errorf("%s is set but %s is not: set both to use Datadog, or neither to use the local state store", envAPIKey, envAppKey)
	case appKey != "":
		return reconcile.Backend{}, fmt.Errorf("%s is set but %s is not: set both to use Datadog, or neither to use the local state store", envAppKey, envAPIKey)
	}
	// The environment's name becomes a file name: it must stay one.
	if env == "" || env != filepath.Base(env) || strings.HasPrefix(env, ".") {
		return reconcile.Backend{}, fmt.Errorf("environment %q cannot name a state file", env)
	}
	path := filepath.Join(stateDir, env+".json")
	s, err := localstore.Open(path)
	if err != nil {
		return reconcile.Backend{}, err
	}
	// The local store keeps monitors in Datadog's shape: the Datadog
	// renderer renders them.
	return reconcile.Backend{Render: datadog.Render, Store: s,
		Description: fmt.Sprintf("the local state store %s (set %s and %s to use Datadog)", path, envAPIKey, envAppKey)}, nil
}

// datadogEndpoint names where the Datadog store sends its requests.
func datadogEndpoint(cfg datadog.Config) string {
	switch {
	case cfg.URL != "":
		return redact.URL(cfg.URL)
	case cfg.Site != "":
		return cfg.Site
	default:
		return "datadoghq.com"
	}
}

// backendChoice is the backend of an environment: kind is
// config.BackendDatadog (Datadog or the local state store, as openStore
// decides) or config.BackendPrometheus, with its rules directory and the
// Prometheus to reload.
type backendChoice struct {
	kind, rulesDir, url, format string
}

// chooseBackend returns the backend of env: the flags' (--backend,
// --rules-dir, --prometheus-url) over the environment's settings in
// esm.yaml (backend, rules_dir relative to the file's directory,
// prometheus_url). --rules-dir or --prometheus-url without the Prometheus
// backend is a usage error.
func chooseBackend(cfg *config.Config, env string, flags backendChoice) (backendChoice, error) {
	switch flags.kind {
	case "", config.BackendDatadog, config.BackendPrometheus:
	default:
		return backendChoice{}, usagef("--backend must be %s or %s, not %q", config.BackendDatadog, config.BackendPrometheus, flags.kind)
	}
	var c backendChoice
	if e, err := cfg.Env(env); err == nil {
		c = backendChoice{kind: e.Backend, rulesDir: e.RulesDir, url: e.PrometheusURL, format: e.RulesFormat}
		if c.rulesDir != "" && cfg.File != "" && !filepath.IsAbs(c.rulesDir) {
			c.rulesDir = filepath.Join(filepath.Dir(cfg.File), c.rulesDir)
		}
	}
	if flags.kind != "" {
		c.kind = flags.kind
	}
	if c.kind == "" {
		c.kind = config.BackendDatadog
	}
	if c.kind != config.BackendPrometheus {
		if flags.rulesDir != "" || flags.url != "" || flags.format != "" {
			return backendChoice{}, usagef("--rules-dir, --prometheus-url and --format are settings of the Prometheus backend: add --backend prometheus")
		}
		return backendChoice{kind: c.kind}, nil
	}
	if flags.rulesDir != "" {
		c.rulesDir = flags.rulesDir
	}
	if flags.url != "" {
		c.url = flags.url
	}
	if flags.format != "" {
		if flags.format != prometheus.FormatRules && flags.format != prometheus.FormatPrometheusRule {
			return backendChoice{}, usagef("--format must be %s or %s, not %q", prometheus.FormatRules, prometheus.FormatPrometheusRule, flags.format)
		}
		c.format = flags.format
	}
	if c.rulesDir == "" {
		return backendChoice{}, usagef("the Prometheus backend of %s needs a rules directory: --rules-dir DIR, or rules_dir in the environment's section of esm.yaml", env)
	}
	return c, nil
}

// openBackend returns the backend c chooses for env: the Prometheus rules
// file c.rulesDir/esm-<env>.rules.yml, or what openStore opens.
func openBackend(env, stateDir string, c backendChoice, getenv func(string) string, opts ...storeOption) (reconcile.Backend, error) {
	if c.kind != config.BackendPrometheus {
		return openStore(env, stateDir, getenv, opts...)
	}
	s, err := prometheus.New(prometheus.Config{Dir: c.rulesDir, Env: env, URL: c.url, Format: c.format})
	if err != nil {
		return reconcile.Backend{}, fmt.Errorf("open the Prometheus rules: %w", err)
	}
	desc := "the Prometheus rules file " + s.Path()
	if c.format == prometheus.FormatPrometheusRule {
		desc = "the PrometheusRule file " + s.Path()
	}
	if c.url != "" {
		desc += " (reloading " + redact.URL(c.url) + ")"
	}
	return reconcile.Backend{Render: prometheus.RenderOne, RenderMany: prometheus.Render, Store: s, Description: desc}, nil
}

// openEnvBackend opens the backend esm.yaml gives env (the bot's
// backends): Datadog or the local state store, or the Prometheus rules
// file of the environment's rules_dir.
func openEnvBackend(cfg *config.Config, env, stateDir string, getenv func(string) string, opts ...storeOption) (reconcile.Backend, error) {
	if cfg == nil {
		return openStore(env, stateDir, getenv, opts...)
	}
	c, err := chooseBackend(cfg, env, backendChoice{})
	if err != nil {
		return reconcile.Backend{}, err
	}
	return openBackend(env, stateDir, c, getenv, opts...)
}
