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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/spf13/cobra"

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

	log *slog.Logger
}

// serveFlags are the raw flag values, checked by serveConfig.
type serveFlags struct {
	role, listen, env, configFile, schemas, maxBody, statsd string
	debounce, burstWindow                                   time.Duration
	burstCount                                              int
	bot                                                     botFlags // bot: see serve_bot.go

	// The server's limits, checked by serveConfig.
	readTimeout, writeTimeout, idleTimeout, maxConns, maxInflightBody string
}

// The defaults of the server's limits.
const (
	defaultReadTimeout     = "30s"
	defaultWriteTimeout    = "30s"
	defaultIdleTimeout     = "2m"
	defaultMaxConns        = "1024"
	defaultMaxInflightBody = "64MiB"
	// budgetWait is how long a request body waits for the in-flight
	// budget before it is answered 503.
	budgetWait = time.Second
)

// serveCmd returns the serve command.
func (a *app) serveCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the event collector and the GitHub bot as an HTTP server",
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

Every flag can also be set in the environment: ESM_ROLE, ESM_LISTEN, ESM_ENV,
ESM_CONFIG, ESM_SCHEMAS, ESM_MAX_BODY, ESM_STATSD_ADDR (default
$DD_AGENT_HOST:$DD_DOGSTATSD_PORT, 127.0.0.1:8125; "off" disables DogStatsD),
ESM_READ_TIMEOUT, ESM_WRITE_TIMEOUT, ESM_IDLE_TIMEOUT, ESM_MAX_CONNECTIONS
and ESM_MAX_INFLIGHT_BODY.

Slow and greedy clients are bounded: a request's headers and body must
arrive within --read-timeout, its answer must be taken within
--write-timeout, at most --max-connections connections are open at once
(more wait in the listen backlog), and the bodies in flight together hold
at most --max-inflight-body bytes (a body that finds the budget spent for
a second is answered 503 with Retry-After).

Bursts of rejected events are posted as Datadog events when DD_API_KEY is
set (DD_SITE, ESM_DATADOG_URL).

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
			cfg, err := a.serveConfig(cmd, &f)
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
	fl := cmd.Flags()
	fl.StringVar(&f.role, "role", "all", "what to run: collector, bot or all (ESM_ROLE)")
	fl.StringVar(&f.listen, "listen", ":8080", "listen on `ADDR` (ESM_LISTEN)")
	fl.StringVar(&f.env, "env", "prod", "environment `NAME`: the value of the env label and tag (ESM_ENV)")
	fl.StringVar(&f.configFile, "config", "", "read settings from `FILE` (ESM_CONFIG; default esm.yaml when present)")
	fl.StringVar(&f.schemas, "schemas", "schemas", "load the record schemas under `DIR` (ESM_SCHEMAS)")
	fl.StringVar(&f.maxBody, "max-body", "1MiB", "largest request body, in bytes or with KiB/MiB (ESM_MAX_BODY)")
	fl.StringVar(&f.statsd, "statsd", "", "DogStatsD agent `ADDR`, or off (ESM_STATSD_ADDR; default $DD_AGENT_HOST:$DD_DOGSTATSD_PORT)")
	fl.DurationVar(&f.debounce, "reload-debounce", 500*time.Millisecond, "wait this long after the last schema file change before reloading")
	fl.IntVar(&f.burstCount, "rejection-burst", 100, "rejections of one type within one window that make a Datadog event (ESM_REJECTION_BURST)")
	fl.DurationVar(&f.burstWindow, "rejection-window", time.Minute, "window in which rejections are counted for a Datadog event")
	fl.StringVar(&f.readTimeout, "read-timeout", defaultReadTimeout, "time a request's headers and body may take to arrive (ESM_READ_TIMEOUT)")
	fl.StringVar(&f.writeTimeout, "write-timeout", defaultWriteTimeout, "time from a request's headers to the end of its answer (ESM_WRITE_TIMEOUT)")
	fl.StringVar(&f.idleTimeout, "idle-timeout", defaultIdleTimeout, "time a kept-alive connection may wait for its next request (ESM_IDLE_TIMEOUT)")
	fl.StringVar(&f.maxConns, "max-connections", defaultMaxConns, "connections open at once; more wait to be accepted (ESM_MAX_CONNECTIONS)")
	fl.StringVar(&f.maxInflightBody, "max-inflight-body", defaultMaxInflightBody, "bytes the request bodies in flight may hold together, at least --max-body (ESM_MAX_INFLIGHT_BODY)")
	f.bot.register(fl) // bot: --state-dir, --autoplan, --require-approval
	return cmd
}

// serveConfig reads the flags, the environment where a flag is not set,
// and esm.yaml, and reports every problem at once.
func (a *app) serveConfig(cmd *cobra.Command, f *serveFlags) (serveConfig, error) {
	fromEnv := func(flag, env string, v *string) {
		if !cmd.Flags().Changed(flag) {
			if e, ok := os.LookupEnv(env); ok {
				*v = e
			}
		}
	}
	fromEnv("role", "ESM_ROLE", &f.role)
	fromEnv("listen", "ESM_LISTEN", &f.listen)
	fromEnv("env", "ESM_ENV", &f.env)
	fromEnv("config", "ESM_CONFIG", &f.configFile)
	fromEnv("schemas", "ESM_SCHEMAS", &f.schemas)
	fromEnv("max-body", "ESM_MAX_BODY", &f.maxBody)
	fromEnv("statsd", "ESM_STATSD_ADDR", &f.statsd)
	burst := strconv.Itoa(f.burstCount)
	fromEnv("rejection-burst", "ESM_REJECTION_BURST", &burst)
	fromEnv("read-timeout", "ESM_READ_TIMEOUT", &f.readTimeout)
	fromEnv("write-timeout", "ESM_WRITE_TIMEOUT", &f.writeTimeout)
	fromEnv("idle-timeout", "ESM_IDLE_TIMEOUT", &f.idleTimeout)
	fromEnv("max-connections", "ESM_MAX_CONNECTIONS", &f.maxConns)
	fromEnv("max-inflight-body", "ESM_MAX_INFLIGHT_BODY", &f.maxInflightBody)

	cfg := serveConfig{
		role: f.role, listen: f.listen, env: f.env, configFile: f.configFile, schemas: f.schemas,
		debounce: f.debounce, burstWindow: f.burstWindow, shutdownWait: 30 * time.Second, budgetWait: budgetWait,
		ddAPIKey: os.Getenv("DD_API_KEY"), ddSite: os.Getenv("DD_SITE"), ddURL: os.Getenv("ESM_DATADOG_URL"),
		log: slog.New(slog.NewJSONHandler(a.stderr, nil)),
	}
	var errs []error
	// bot: --role bot needs the bot's settings; --role all runs the bot
	// when any of them is set.
	if f.role == "bot" || f.role == "all" && botConfigured(os.Getenv) {
		bc, err := f.bot.config(cmd, os.Getenv, f.configFile)
		errs = append(errs, err)
		cfg.bot = bc
	}
	if f.role != "collector" && f.role != "all" && f.role != "bot" {
		errs = append(errs, fmt.Errorf("--role %q: want collector, bot or all", f.role))
	}
	if _, _, err := net.SplitHostPort(f.listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q: %w", f.listen, err))
	}
	n, err := parseSize(f.maxBody)
	if err != nil {
		errs = append(errs, fmt.Errorf("--max-body: %w", err))
	}
	cfg.maxBody = n
	switch f.statsd {
	case "off":
	case "":
		cfg.statsdAddr = metrics.DefaultStatsdAddr()
	default:
		cfg.statsdAddr = f.statsd
	}
	if cfg.statsdAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.statsdAddr); err != nil {
			errs = append(errs, fmt.Errorf("--statsd %q: %w", cfg.statsdAddr, err))
		}
	}
	if cfg.burstCount, err = strconv.Atoi(burst); err != nil || cfg.burstCount <= 0 {
		errs = append(errs, fmt.Errorf("--rejection-burst %q: want a positive number", burst))
	}
	if f.debounce <= 0 || f.burstWindow <= 0 {
		errs = append(errs, errors.New("--reload-debounce and --rejection-window must be positive"))
	}
	for _, d := range []struct {
		flag, value string
		to          *time.Duration
	}{
		{"read-timeout", f.readTimeout, &cfg.readTimeout},
		{"write-timeout", f.writeTimeout, &cfg.writeTimeout},
		{"idle-timeout", f.idleTimeout, &cfg.idleTimeout},
	} {
		if *d.to, err = time.ParseDuration(d.value); err != nil || *d.to <= 0 {
			errs = append(errs, fmt.Errorf("--%s %q: want a positive duration such as 30s", d.flag, d.value))
		}
	}
	if cfg.maxConns, err = strconv.Atoi(f.maxConns); err != nil || cfg.maxConns <= 0 {
		errs = append(errs, fmt.Errorf("--max-connections %q: want a positive number", f.maxConns))
	}
	if cfg.maxInflightBody, err = parseSize(f.maxInflightBody); err != nil {
		errs = append(errs, fmt.Errorf("--max-inflight-body: %w", err))
	} else if cfg.maxBody > 0 && cfg.maxInflightBody < cfg.maxBody {
		errs = append(errs, fmt.Errorf("--max-inflight-body %s is less than --max-body %s: one body would not fit", f.maxInflightBody, f.maxBody))
	}
	if err := errors.Join(errs...); err != nil {
		return serveConfig{}, fmt.Errorf("serve: configuration:\n%w", err)
	}
	return cfg, nil
}

// parseSize reads a byte count: 1048576, 512KiB, 1MiB.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q: want a positive size such as 1048576, 512KiB or 1MiB", s)
	}
	return n * mult, nil
}

// server is esm serve's HTTP server: the collector, /metrics and
// /healthz.
type server struct {
	http.Handler
	cfg      serveConfig
	metrics  *metrics.Metrics
	registry *collector.Registry      // nil for --role bot
	bursts   *collector.BurstReporter // nil without Datadog events
	bot      *bot                     // nil when the bot is off
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
	metricName, envTag := metrics.DefaultStatsdReceived, cfg.env
	if conf != nil {
		if e, err := conf.Env(cfg.env); err != nil {
			errs = append(errs, fmt.Errorf("--env: %w", err))
		} else {
			metricName, envTag = e.Metric, e.EnvTag
		}
	}
	var events *datadog.EventClient
	if cfg.ddAPIKey != "" {
		if events, err = datadog.NewEventClient(datadog.EventClientConfig{APIKey: cfg.ddAPIKey, Site: cfg.ddSite, URL: cfg.ddURL}); err != nil {
			errs = append(errs, err)
		}
	}
	m, err := metrics.New(metrics.Options{Env: envTag, StatsdReceived: metricName, StatsdAddr: cfg.statsdAddr})
	if err != nil {
		errs = append(errs, err)
	}
	var reg *collector.Registry
	if m != nil && cfg.role != "bot" { // bot: the bot alone needs no schemas
		if reg, err = collector.NewRegistry(cfg.schemas, meter{m}, cfg.log); err != nil {
			errs = append(errs, fmt.Errorf("--schemas: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		if m != nil {
			_ = m.Close()
		}
		return nil, fmt.Errorf("serve: configuration:\n%w", err)
	}
	s := &server{cfg: cfg, metrics: m, registry: reg, log: cfg.log}
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
			_ = m.Close()
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
	if s.registry != nil { // bot: --role bot has no collector
		wg.Go(func() {
			if err := s.registry.Watch(bg, s.cfg.debounce); err != nil {
				s.log.Error("schema watcher stopped", "error", err.Error())
			}
		})
		signal.Notify(hup, syscall.SIGHUP)
	}
	wg.Go(func() {
		for {
			select {
			case <-bg.Done():
				return
			case <-hup:
				s.log.Info("SIGHUP: reloading schemas", "dir", s.registry.Dir())
				_ = s.registry.Reload() // logged by Reload
			}
		}
	})
	if s.bursts != nil {
		wg.Go(func() { s.bursts.Run(bg) })
	}

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	if s.registry != nil {
		s.log.Info("esm serve listening", "addr", ln.Addr().String(), "role", s.cfg.role, "env", s.cfg.env,
			"schemas", s.registry.Dir(), "types", len(s.registry.Types()), "statsd", s.cfg.statsdAddr, "bot", s.bot != nil)
	} else {
		s.log.Info("esm serve listening", "addr", ln.Addr().String(), "role", s.cfg.role, "bot", true)
	}

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

// close flushes and closes DogStatsD.
func (s *server) close() error { return s.metrics.Close() }

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
