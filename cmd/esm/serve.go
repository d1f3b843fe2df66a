package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/esm-dev/esm/internal/collector"
	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/datadog"
	"github.com/esm-dev/esm/internal/httplimit"
	"github.com/esm-dev/esm/internal/metrics"
	"github.com/esm-dev/esm/webhook"
)

// serveConfig is what esm serve runs with, from flags and environment.
type serveConfig struct {
	role       string
	listen     string
	env        string
	configFile string
	schemas    string
	queries    string // the query files' directory; "" when the queries role is off
	maxBody    int64
	statsdAddr string // "" when DogStatsD is off
	debounce   time.Duration

	// Datadog events for bursts of rejections; off without an API key.
	ddAPIKey     string
	ddSite       string
	ddURL        string
	burstCount   int
	burstWindow  time.Duration
	shutdownWait time.Duration

	// The server's limits; zero means none (flags always set them).
	readTimeout     time.Duration // headers and body of a request
	writeTimeout    time.Duration // from the end of the headers to the end of the answer
	idleTimeout     time.Duration // between requests on a kept-alive connection
	maxConns        int           // connections open at once
	maxInflightBody int64         // bytes all request bodies in flight may take
	budgetWait      time.Duration // how long a body waits for the budget before a 503

	// bot is the GitHub bot's configuration; nil when the bot is off.
	bot *botConfig

	// queryStatsdEvery is how often the query gauges are sent to
	// DogStatsD again (default metrics.DefaultQueryStatsdEvery).
	queryStatsdEvery time.Duration
	// getenv reads the databases' DSN variables; nil is os.Getenv.
	getenv func(string) string

	log *slog.Logger
}

// budgetWait is how long a request body waits for the in-flight budget
// before it is answered 503.
const budgetWait = time.Second

// serveCmd returns the serve command.
func (a *app) serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the event collector, the GitHub bot and the query monitors as an HTTP server",
		Long: `serve runs esm's HTTP server. The collector (--role collector) takes events
on POST /v1/events/{type} (one JSON or Avro binary event) and POST /v1/events
(NDJSON, one {"type": ..., "event": ...} envelope per line), checks each one
against the record schemas under --schemas, and counts it per event type in
Prometheus (GET /metrics) and DogStatsD. GET /healthz answers 200 while the
process lives; GET /readyz answers 200 when the schemas are loaded and every
environment's monitor store answers (503 naming the failing check otherwise).

The schemas are reloaded on SIGHUP and when a file under --schemas changes;
a broken reload keeps the last good schemas. SIGINT and SIGTERM stop the
server after the requests in flight.

Every flag can also be set in the environment: ` + serveFlagVariables() + `.
A flag given on the command line wins over its variable, which wins over
the default; a variable set to the empty string counts as not set.

Slow and greedy clients are bounded: a request's headers and body must
arrive within --read-timeout, its answer must be taken within
--write-timeout, at most --max-connections connections are open at once
(more wait in the listen backlog), and the bodies in flight together hold
at most --max-inflight-body bytes (a body that finds the budget spent for
a second is answered 503 with Retry-After).

Bursts of rejected events are posted as Datadog events when DD_API_KEY is
set (DD_SITE, ESM_DATADOG_URL).

The query monitors (--role queries, or --role all when --queries holds
query files and esm.yaml declares databases) run each query of the files
under --queries when its interval has passed, against the databases of
esm.yaml, and export its rows as esm_query_value{query, <labels>} on
/metrics and esm.query.value in DogStatsD, with
esm_query_duration_seconds, esm_query_failures_total and
esm_query_last_success_timestamp_seconds. Each result is kept in the
result store (queries.result_store, default .esm/queries): a restart
exports the stored results at once and runs a query only when its
interval has passed since its stored run. The query files are reloaded
on SIGHUP and when they change; a broken reload keeps the last good set.

The GitHub bot (--role bot, or --role all when any of its settings is set)
answers "esm <env> plan" and "esm <env> register" comments on pull requests
through POST /webhook. It needs ESM_WEBHOOK_SECRET, ESM_ALLOWED_REPOS
(owner/name or owner/*, comma-separated) and GITHUB_TOKEN or a GitHub App
(ESM_GITHUB_APP_ID with ESM_GITHUB_APP_PRIVATE_KEY or
ESM_GITHUB_APP_PRIVATE_KEY_PATH); ESM_GITHUB_URL names GitHub Enterprise.
Its monitors go to Datadog when DD_API_KEY and DD_APP_KEY are set (DD_SITE,
ESM_DATADOG_URL), else to the local state files under --state-dir.`,
		Args: rangeArgs(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewJSONHandler(a.stderr, nil))
			flags := givenServeFlags(cmd.Flags())
			configFile, ok := flags["config"]
			if !ok {
				configFile = os.Getenv("ESM_CONFIG")
			}
			cfg, err := readServeConfig(flags, os.Getenv, log)
			dsnVars := dsnVariables(configFile)
			for _, u := range config.UnknownServeVariables(os.Environ()) {
				if !dsnVars[u.Name] {
					log.Warn("unknown ESM_ environment variable", "name", u.Name, "closest", u.Closest)
				}
			}
			if err != nil {
				return err
			}
			s, err := newServer(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ln, err := net.Listen("tcp", cfg.listen)
			if err != nil {
				_ = s.close()
				return fmt.Errorf("serve: %w", err)
			}
			return s.serve(ctx, ln)
		},
	}
	registerServeFlags(cmd.Flags())
	return cmd
}

// settingValue is the value of a setting's flag: kept as typed, and read
// by config.ReadServe with the environment and the defaults.
type settingValue struct{ value, kind string }

func (v *settingValue) String() string     { return v.value }
func (v *settingValue) Set(s string) error { v.value = s; return nil }
func (v *settingValue) Type() string       { return v.kind }

// registerServeFlags adds the flag of every setting of
// config.ServeSettings that has one to fl.
func registerServeFlags(fl *pflag.FlagSet) {
	for _, st := range config.ServeSettings() {
		if st.Flag == "" {
			continue
		}
		usage := st.Help + " (" + st.Env
		if st.Default == "" && st.DefaultDoc != "" && st.DefaultDoc != "none" {
			usage += "; default " + st.DefaultDoc
		}
		f := fl.VarPF(&settingValue{value: st.Default, kind: st.Kind}, st.Flag, "", usage+")")
		if st.Kind == config.KindBool {
			f.NoOptDefVal = "true"
		}
	}
}

// givenServeFlags returns the settings' flags given on the command line,
// by name, as typed.
func givenServeFlags(fl *pflag.FlagSet) map[string]string {
	given := map[string]string{}
	fl.Visit(func(f *pflag.Flag) {
		if _, ok := f.Value.(*settingValue); ok {
			given[f.Name] = f.Value.String()
		}
	})
	return given
}

// serveFlagVariables lists the variables of the settings that have a
// flag, for the help.
func serveFlagVariables() string {
	var envs []string
	for _, st := range config.ServeSettings() {
		if st.Flag != "" {
			envs = append(envs, st.Env)
		}
	}
	return strings.Join(envs, ", ")
}

// readServeConfig reads esm serve's settings (config.ReadServe: flags
// given, then getenv, then the defaults), builds the bot's configuration
// when the bot runs, logs which roles run, and reports every problem at
// once.
func readServeConfig(flags map[string]string, getenv func(string) string, log *slog.Logger) (serveConfig, error) {
	s, err := config.ReadServe(flags, getenv)
	errs := []error{err}
	cfg := serveConfig{
		role: s.Role, listen: s.Listen, env: s.Env, configFile: s.ConfigFile, schemas: s.Schemas, getenv: getenv,
		maxBody: s.MaxBody, debounce: s.ReloadDebounce, burstCount: s.RejectionBurst, burstWindow: s.RejectionWindow,
		ddAPIKey: s.DatadogAPIKey.Reveal(), ddSite: s.DatadogSite, ddURL: s.DatadogURL,
		readTimeout: s.ReadTimeout, writeTimeout: s.WriteTimeout, idleTimeout: s.IdleTimeout,
		maxConns: s.MaxConnections, maxInflightBody: s.MaxInflightBody,
		shutdownWait: 30 * time.Second, budgetWait: budgetWait, log: log,
	}
	switch s.Statsd {
	case "off":
	case "":
		cfg.statsdAddr = metrics.DefaultStatsdAddr()
	default:
		cfg.statsdAddr = s.Statsd
	}
	if s.BotRuns() {
		bc, err := newBotConfig(s)
		errs = append(errs, err)
		cfg.bot = bc
	}
	if err := errors.Join(errs...); err != nil {
		return serveConfig{}, fmt.Errorf("serve: configuration:\n%w", err)
	}
	roles := s.Roles()
	attrs := []any{}
	if s.Role == config.RoleAll && !s.BotRuns() {
		attrs = append(attrs, "bot", "off: "+missingList(s.BotMissing())+" not set")
	}
	switch {
	case s.Role == config.RoleQueries:
		cfg.queries = s.Queries
	case s.QueriesWanted():
		if off := queriesOff(s.Queries, s.ConfigFile); off != "" {
			attrs = append(attrs, "queries", off)
		} else {
			cfg.queries = s.Queries
		}
	}
	if cfg.queries != "" {
		roles = append(roles, config.RoleQueries)
	}
	log.Info("esm serve roles", append([]any{"roles", roles}, attrs...)...)
	return cfg, nil
}

// dsnVariables returns the dsn_env variables of the databases of the
// configuration file (ESM_MAIN_DSN), which are no mistyped settings. A
// file that cannot be read names none; the server reports why.
func dsnVariables(configFile string) map[string]bool {
	vars := map[string]bool{}
	if conf, err := config.Load(configFile); err == nil {
		for _, db := range conf.Databases.List {
			if db.DSNEnv != "" {
				vars[db.DSNEnv] = true
			}
		}
	}
	return vars
}

// missingList joins names as "A, B and C are" or "A is".
func missingList(names []string) string {
	switch len(names) {
	case 0:
		return "nothing is"
	case 1:
		return names[0] + " is"
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " are"
}

// server is esm serve's HTTP server: the collector, /metrics and
// /healthz.
type server struct {
	http.Handler
	cfg      serveConfig
	metrics  *metrics.Metrics
	registry *collector.Registry      // nil when the collector is off
	bursts   *collector.BurstReporter // nil without Datadog events
	bot      *bot                     // nil when the bot is off
	queries  *queryRole               // nil when the queries role is off
	log      *slog.Logger
}

// newServer builds the server from cfg; every configuration problem is
// reported at once.
func newServer(cfg serveConfig) (*server, error) {
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	conf, err := config.Load(cfg.configFile)
	if err != nil {
		errs = append(errs, err)
	}
	metricName, envTag, queryMetric := metrics.DefaultStatsdReceived, cfg.env, ""
	if conf != nil {
		if e, err := conf.Env(cfg.env); err != nil {
			errs = append(errs, fmt.Errorf("--env: %w", err))
		} else {
			// The query gauge's DogStatsD name is the one the query
			// monitors watch (environments.<env>.query_metric).
			metricName, envTag, queryMetric = e.Metric, e.EnvTag, e.QueryMetric
		}
	}
	var events *datadog.EventClient
	if cfg.ddAPIKey != "" {
		if events, err = datadog.NewEventClient(datadog.EventClientConfig{APIKey: cfg.ddAPIKey, Site: cfg.ddSite, URL: cfg.ddURL}); err != nil {
			errs = append(errs, err)
		}
	}
	m, err := metrics.New(metrics.Options{Env: envTag, StatsdReceived: metricName, StatsdQueryValue: queryMetric, StatsdAddr: cfg.statsdAddr})
	if err != nil {
		errs = append(errs, err)
	}
	var reg *collector.Registry
	if m != nil && (cfg.role == config.RoleCollector || cfg.role == config.RoleAll) { // the bot and the queries need no schemas
		if reg, err = collector.NewRegistry(cfg.schemas, meter{m}, cfg.log); err != nil {
			errs = append(errs, fmt.Errorf("--schemas: %w", err))
		}
	}
	var qr *queryRole
	if m != nil && conf != nil && cfg.queries != "" {
		if qr, err = newQueryRole(context.Background(), cfg, conf, m); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		if qr != nil {
			_ = qr.close()
		}
		if m != nil {
			_ = m.Close()
		}
		return nil, fmt.Errorf("serve: configuration:\n%w", err)
	}
	s := &server{cfg: cfg, metrics: m, registry: reg, queries: qr, log: cfg.log}
	opts := collector.Options{MaxBody: cfg.maxBody, Log: cfg.log}
	if events != nil {
		s.bursts = collector.NewBurstReporter(eventSender{events}, collector.BurstOptions{
			Env: envTag, Threshold: cfg.burstCount, Window: cfg.burstWindow, Log: cfg.log,
		})
		opts.Rejections = s.bursts
	}
	obs := metrics.NewObserver(m.Registry())
	r := chi.NewRouter()
	r.Use(obs.Middleware)
	// The bodies in flight share one budget; each route reserves at most
	// what its handler reads.
	bodies := func(maxBody int64) chi.Router { return r }
	if cfg.maxInflightBody > 0 {
		budget := httplimit.NewBodyBudget(cfg.maxInflightBody, cfg.budgetWait)
		bodies = func(maxBody int64) chi.Router { return r.With(budget.Middleware(maxBody)) }
	}
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	r.Get("/readyz", s.readyz)
	r.Method(http.MethodGet, "/metrics", m.Handler())
	if reg != nil {
		collector.New(reg, opts).Routes(bodies(cfg.maxBody))
	}
	if cfg.bot != nil { // bot: POST /webhook
		if s.bot, err = newBot(cfg.bot, cfg.log, obs); err != nil {
			_ = s.close()
			return nil, fmt.Errorf("serve: configuration:\n%w", err)
		}
		s.bot.routes(bodies(webhook.DefaultMaxBodyBytes))
	}
	s.Handler = r
	return s, nil
}

// readyz answers whether the server can do its work: the schemas are
// loaded (the collector keeps the last good set when a reload fails), the
// configuration was valid (checked at start), and every environment's
// monitor store answers (the bot; the local state store counts, so esm is
// ready without Datadog credentials). Store checks are cached briefly.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	var lines []string
	ok := true
	if s.registry != nil {
		lines = append(lines, "schemas: loaded from "+s.registry.Dir())
	}
	if s.queries != nil {
		lines = append(lines, s.queries.status())
	}
	if s.bot != nil {
		for _, p := range s.bot.ready(r.Context()) {
			if p.err != nil {
				ok = false
				lines = append(lines, "store "+p.env+": "+p.err.Error())
			} else {
				lines = append(lines, "store "+p.env+": ok")
			}
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = io.WriteString(w, strings.Join(append(lines, ""), "\n"))
}

// serve answers requests on ln until ctx is done, then shuts down: the
// requests in flight finish, the background work stops and DogStatsD is
// flushed and closed. Each event is counted once, by the request that
// carried it.
func (s *server) serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.readTimeout,
		ReadTimeout:       s.cfg.readTimeout,
		WriteTimeout:      s.cfg.writeTimeout,
		IdleTimeout:       s.cfg.idleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.cfg.maxConns > 0 {
		ln = httplimit.LimitListener(ln, s.cfg.maxConns)
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	hup := make(chan os.Signal, 1)
	if s.registry != nil { // the collector's schemas
		wg.Go(func() {
			if err := s.registry.Watch(bg, s.cfg.debounce); err != nil {
				s.log.Error("schema watcher stopped", "error", err.Error())
			}
		})
	}
	if s.queries != nil {
		s.queries.run(bg, &wg)
	}
	if s.registry != nil || s.queries != nil {
		signal.Notify(hup, syscall.SIGHUP)
	}
	wg.Go(func() {
		for {
			select {
			case <-bg.Done():
				return
			case <-hup:
				if s.registry != nil {
					s.log.Info("SIGHUP: reloading schemas", "dir", s.registry.Dir())
					_ = s.registry.Reload() // logged by Reload
				}
				if s.queries != nil {
					s.log.Info("SIGHUP: reloading queries", "dir", s.queries.dir)
					_ = s.queries.reload(bg) // logged by reload
				}
			}
		}
	})
	if s.bursts != nil {
		wg.Go(func() { s.bursts.Run(bg) })
	}

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	attrs := []any{"addr", ln.Addr().String(), "role", s.cfg.role, "env", s.cfg.env, "statsd", s.cfg.statsdAddr, "bot", s.bot != nil}
	if s.registry != nil {
		attrs = append(attrs, "schemas", s.registry.Dir(), "types", len(s.registry.Types()))
	}
	if s.queries != nil {
		attrs = append(attrs, "queries", s.queries.dir)
	}
	s.log.Info("esm serve listening", attrs...)

	var err error
	select {
	case err = <-served:
		err = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		s.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.shutdownWait)
		if serr := hs.Shutdown(sctx); serr != nil {
			err = fmt.Errorf("serve: shutdown: %w", serr)
		}
		if s.bot != nil { // bot: let the runs in progress finish
			if berr := s.bot.shutdown(sctx); berr != nil && err == nil {
				err = fmt.Errorf("serve: shutdown: %w", berr)
			}
		}
		cancel()
		<-served
	}
	signal.Stop(hup)
	stopBG()
	wg.Wait()
	if cerr := s.close(); cerr != nil && err == nil {
		err = cerr
	}
	s.log.Info("stopped")
	return err
}

// close closes the query monitors' databases, and flushes and closes
// DogStatsD.
func (s *server) close() error {
	var errs []error
	if s.queries != nil {
		errs = append(errs, s.queries.close())
	}
	return errors.Join(append(errs, s.metrics.Close())...)
}

// meter adapts metrics.Metrics to collector.Meter.
type meter struct{ m *metrics.Metrics }

func (m meter) Counter(eventType string) collector.Counter { return m.m.EventCounter(eventType) }
func (m meter) SchemaReload(err error, types int)          { m.m.SchemaReload(err, types) }

// eventSender adapts datadog.EventClient to collector.EventSender.
type eventSender struct{ c *datadog.EventClient }

func (e eventSender) SendEvent(ctx context.Context, ev collector.Event) error {
	_, err := e.c.Post(ctx, datadog.EventRequest{
		Title: ev.Title, Text: ev.Text, Tags: ev.Tags, AggregationKey: ev.AggregationKey, AlertType: ev.AlertType,
	})
	return err
}
