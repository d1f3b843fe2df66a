package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/dirwatch"
	"github.com/esm-dev/esm/internal/metrics"
	"github.com/esm-dev/esm/internal/queries"
	"github.com/esm-dev/esm/internal/queryfile"
)

// queriesOff says why --role all does not run the query monitors, or ""
// when it does: it runs them when the directory holds query files and
// esm.yaml declares databases for them. A configuration that cannot be
// read counts as running them: the server then reports why it cannot.
func queriesOff(dir, configFile string) string {
	if !hasQueryFiles(dir) {
		return "off: no query files under " + dir
	}
	conf, err := config.Load(configFile)
	if err == nil && len(conf.Databases.List) == 0 {
		return "off: esm.yaml declares no databases"
	}
	return ""
}

// hasQueryFiles reports whether a query file (.yaml, .yml) is under dir,
// in the directories queryfile.LoadDir reads.
func hasQueryFiles(dir string) bool {
	found := false
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != dir && strings.HasPrefix(d.Name(), "."):
			return filepath.SkipDir
		case !d.IsDir() && queryfile.IsQueryFile(path):
			found = true
			return fs.SkipAll
		}
		return nil
	})
	return found
}

// queryRole is the queries role of esm serve: the query files of a
// directory, run by a scheduler on their intervals against the databases
// of esm.yaml, their results exported by metrics and kept in the result
// store. The query files are reloaded on SIGHUP and when they change; a
// set with a problem is logged and the last good one keeps running.
type queryRole struct {
	dir      string
	dbs      []string // the databases of esm.yaml, for the parser
	pool     *queries.Pool
	sched    *queries.Scheduler
	exporter *metrics.Queries
	log      *slog.Logger
	debounce time.Duration
	every    time.Duration // DogStatsD resend interval

	reloadMu sync.Mutex // serialises reloads
	mu       sync.Mutex // guards count and lastErr, which /readyz reads
	count    int
	lastErr  error
}

// newQueryRole loads the query files of cfg.queries, opens their
// databases and the result store, and hands the stored results to the
// exporter, before the first scrape. Every problem is reported at once.
func newQueryRole(ctx context.Context, cfg serveConfig, conf *config.Config, m *metrics.Metrics) (*queryRole, error) {
	getenv := cfg.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	r := &queryRole{
		dir: cfg.queries, dbs: conf.Databases.Names(), exporter: m.Queries(), log: cfg.log,
		debounce: cfg.debounce, every: cfg.queryStatsdEvery,
	}
	qs, list := queryfile.LoadDir(r.dir, queryfile.ParseOptions{Databases: r.dbs})
	if list.HasErrors() {
		return nil, fmt.Errorf("--queries: query files under %s:\n%w", r.dir, list.Errors())
	}
	r.logWarnings(list.Warnings())
	if len(qs) == 0 {
		return nil, fmt.Errorf("--queries / ESM_QUERIES: no queries under %s: add a query file (.yaml) or run another --role", r.dir)
	}
	used := map[string]bool{}
	for _, q := range qs {
		used[q.DB] = true
	}
	var errs []error
	var dbs []queries.Database
	for _, db := range conf.Databases.List {
		dsn, err := db.ResolveDSN(conf.File, getenv)
		switch {
		case err != nil && used[db.Name]:
			errs = append(errs, err)
		case err != nil:
			r.log.Warn("database not opened: no query uses it yet", "db", db.Name, "error", err.Error())
		default:
			dbs = append(dbs, queries.Database{Name: db.Name, Driver: db.Driver, DSN: dsn, MaxOpenConns: db.MaxOpenConns})
		}
	}
	store, err := queries.OpenResultStore(ctx, conf.Queries.ResultStore, queries.StoreOptions{S3Endpoint: conf.Queries.S3Endpoint})
	if err != nil {
		errs = append(errs, fmt.Errorf("queries.result_store: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if r.pool, err = queries.Open(dbs, conf.Queries.MaxConcurrentQueries); err != nil {
		return nil, err
	}
	r.sched = queries.NewScheduler(queries.SchedulerOptions{Executor: r.pool, Sink: querySink{r.exporter}, Store: store, Logger: r.log})
	r.logWarnings(r.sched.Set(ctx, qs))
	r.count = len(qs)
	return r, nil
}

// run runs the queries on their schedule, watches the query files and
// repeats the DogStatsD gauges until ctx is done. Each runs in wg.
func (r *queryRole) run(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { r.sched.Run(ctx) })
	// Watching starts before run returns, so that no change after the
	// start (and its first scrape) is missed.
	if w, err := dirwatch.Start(r.dir); err != nil {
		r.log.Error("query files not watched; they reload on SIGHUP only", "dir", r.dir, "error", err.Error())
	} else {
		wg.Go(func() {
			w.Run(ctx, r.debounce, func() { _ = r.reload(ctx) }, func(err error) {
				r.log.Warn("query file watcher error", "dir", r.dir, "error", err.Error())
			})
		})
	}
	wg.Go(func() { r.exporter.RunStatsd(ctx, r.every) })
}

// reload reads the query files again and hands the new set to the
// scheduler: unchanged queries keep their schedule, new and changed ones
// start from their stored result, removed ones are withdrawn. A set with
// a problem is logged, each problem as file:line:col, and the last good
// set keeps running.
func (r *queryRole) reload(ctx context.Context) error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	qs, list := queryfile.LoadDir(r.dir, queryfile.ParseOptions{Databases: r.dbs})
	if errs := list.Errors(); len(errs) > 0 {
		problems := make([]string, 0, len(errs))
		for _, d := range errs {
			problems = append(problems, d.Error())
		}
		r.mu.Lock()
		r.lastErr = errs
		kept := r.count
		r.mu.Unlock()
		r.log.Error("query reload failed; keeping the last good queries", "dir", r.dir, "queries", kept, "problems", problems)
		return errs
	}
	r.logWarnings(list.Warnings())
	r.logWarnings(r.sched.Set(ctx, qs)) // reads the stored results of new queries
	r.mu.Lock()
	r.count, r.lastErr = len(qs), nil
	r.mu.Unlock()
	r.log.Info("queries reloaded", "dir", r.dir, "queries", len(qs))
	return nil
}

// logWarnings logs each warning as file:line:col: message.
func (r *queryRole) logWarnings(list diag.List) {
	for _, d := range list {
		r.log.Warn("query warning", "warning", d.Error())
	}
}

// status is the queries' line of /readyz.
func (r *queryRole) status() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := fmt.Sprintf("queries: %d loaded from %s", r.count, r.dir)
	if r.lastErr != nil {
		line += " (the last reload failed; see the log)"
	}
	return line
}

// close closes the databases; the scheduler has stopped.
func (r *queryRole) close() error { return r.pool.Close() }

// querySink adapts metrics.Queries to queries.Sink.
type querySink struct{ q *metrics.Queries }

// Set exports r. A failed result carries the rows of the last good run;
// one loaded from the store is no new failure.
func (s querySink) Set(query string, r queries.Result) {
	rows := make([]metrics.QueryRow, len(r.Rows))
	for i, row := range r.Rows {
		rows[i] = metrics.QueryRow{Labels: row.Labels, Value: row.Value}
	}
	s.q.Set(query, metrics.QueryResult{
		Labels: r.Labels, Rows: rows, Duration: r.Duration, LastSuccess: r.LastSuccess,
		NewFailure: r.Failed() && !r.Loaded,
	})
}

// Delete withdraws the query's series.
func (s querySink) Delete(query string) { s.q.Delete(query) }
