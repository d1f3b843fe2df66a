package main

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"

	"github.com/esm-dev/esm/internal/metrics"
	"github.com/esm-dev/esm/internal/queries"
)

// sqliteRuns counts the calls of the SQL function esm_test_run(), which a
// query calls to let the test see how often the database ran it.
var (
	sqliteRuns     atomic.Int64
	registerRunsFn sync.Once
)

func registerRunCounter(t *testing.T) {
	t.Helper()
	registerRunsFn.Do(func() {
		require.NoError(t, sqlite.RegisterScalarFunction("esm_test_run", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
			return sqliteRuns.Add(1), nil
		}))
	})
}

// serveQueryFixture is queryFixture's directory (a SQLite database of
// orders, declared as shop, and the query files under queries/) with
// the result store under store/; db is the database, writable.
func serveQueryFixture(t *testing.T, queryFiles map[string]string) (dir string, db *sql.DB) {
	t.Helper()
	dir = queryFixture(t, queryFiles)
	dbPath := filepath.Join(dir, "shop.db")
	writeFiles(t, dir, map[string]string{
		"esm.yaml": "databases:\n  shop: {driver: sqlite, dsn: " + dbPath + "}\nqueries:\n  result_store: " + filepath.Join(dir, "store") + "\n",
	})
	db, err := sql.Open("sqlite", dbPath)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return dir, db
}

// queryServeConfig runs the queries role on the fixture in dir.
func queryServeConfig(dir, statsd string, log *slog.Logger) serveConfig {
	cfg := testServeConfig(statsd)
	cfg.role, cfg.schemas = "queries", ""
	cfg.configFile, cfg.queries = filepath.Join(dir, "esm.yaml"), filepath.Join(dir, "queries")
	cfg.queryStatsdEvery = 50 * time.Millisecond
	if log != nil {
		cfg.log = log
	}
	return cfg
}

// queryMetrics scrapes base/metrics and returns the series of the query
// metrics as name{label=value,...} value, labels sorted.
func queryMetrics(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	out := map[string]float64{}
	for name, fam := range fams {
		if !strings.HasPrefix(name, "esm_query_") {
			continue
		}
		for _, m := range fam.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			out[name+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

// eventually polls cond every 20ms for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const ordersQuery = `name: orders_by_country
description: The amount of the orders, per country
db: shop
query: SELECT country, sum(amount) AS amount FROM orders GROUP BY country
labels: [country]
interval: PT1S
`

// TestServeQueriesExportAndKeepLastValueOnFailure: esm serve --role
// queries runs a query against SQLite and exports its rows with their
// labels and the three other metrics on /metrics and in DogStatsD; when
// the query starts failing, its last good value stays and its failures
// count.
func TestServeQueriesExportAndKeepLastValueOnFailure(t *testing.T) {
	statsd, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer statsd.Close()
	dir, db := serveQueryFixture(t, map[string]string{"orders.yaml": ordersQuery})
	base, stop := startServer(t, queryServeConfig(dir, statsd.LocalAddr().String(), nil))

	var m map[string]float64
	eventually(t, "the first result", func() bool {
		m = queryMetrics(t, base)
		return m[`esm_query_value{country=fr,query=orders_by_country}`] == 12.5
	})
	assert.Equal(t, 4.0, m[`esm_query_value{country=de,query=orders_by_country}`])
	assert.Equal(t, 0.0, m[`esm_query_failures_total{query=orders_by_country}`])
	assert.Contains(t, m, `esm_query_duration_seconds{query=orders_by_country}`)
	lastSuccess := m[`esm_query_last_success_timestamp_seconds{query=orders_by_country}`]
	assert.InDelta(t, float64(time.Now().Unix()), lastSuccess, 60)

	// DogStatsD: the gauge with the query, its labels and env, repeated.
	want := map[string]bool{
		"esm.query.value:12.5|g|#query:orders_by_country,country:fr,env:prod": false,
		"esm.query.value:4|g|#query:orders_by_country,country:de,env:prod":    false,
	}
	buf := make([]byte, 65536)
	for seen := 0; seen < len(want); {
		require.NoError(t, statsd.SetReadDeadline(time.Now().Add(10*time.Second)))
		n, err := statsd.Read(buf)
		require.NoError(t, err, "waiting for %v", want)
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			if done, ok := want[line]; ok && !done {
				want[line] = true
				seen++
			}
		}
	}

	// The table goes: the query fails, its value stays, failures count.
	_, err = db.Exec("DROP TABLE orders")
	require.NoError(t, err)
	dropped := time.Now()
	eventually(t, "a failure", func() bool {
		m = queryMetrics(t, base)
		return m[`esm_query_failures_total{query=orders_by_country}`] >= 1
	})
	assert.Equal(t, 12.5, m[`esm_query_value{country=fr,query=orders_by_country}`], "the last good value stays")
	assert.Equal(t, 4.0, m[`esm_query_value{country=de,query=orders_by_country}`])
	failedAt := m[`esm_query_last_success_timestamp_seconds{query=orders_by_country}`]
	assert.GreaterOrEqual(t, failedAt, lastSuccess)
	assert.Less(t, failedAt, float64(dropped.UnixNano())/1e9, "the last success is before the table went")
	eventually(t, "a second failure", func() bool {
		m = queryMetrics(t, base)
		return m[`esm_query_failures_total{query=orders_by_country}`] >= 2
	})
	assert.Equal(t, failedAt, m[`esm_query_last_success_timestamp_seconds{query=orders_by_country}`])
	assert.Equal(t, 12.5, m[`esm_query_value{country=fr,query=orders_by_country}`])

	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, stop())
}

const dailyQuery = `name: daily
db: shop
query: SELECT esm_test_run() AS runs
interval: P1D
`

// TestServeQueriesRestartServesTheStoredResult: a P1D query runs once;
// after a restart with the same result store /metrics serves its stored
// value at once and the database sees no second run. A corrupt stored
// result is reported and the query runs again.
func TestServeQueriesRestartServesTheStoredResult(t *testing.T) {
	registerRunCounter(t)
	dir, _ := serveQueryFixture(t, map[string]string{"daily.yaml": dailyQuery})
	before := sqliteRuns.Load()
	runs := func() int64 { return sqliteRuns.Load() - before }

	base, stop := startServer(t, queryServeConfig(dir, "", nil))
	var first map[string]float64
	eventually(t, "the first run", func() bool {
		first = queryMetrics(t, base)
		_, ok := first[`esm_query_value{query=daily}`]
		return ok
	})
	require.NoError(t, stop())
	require.Equal(t, int64(1), runs())
	stored := filepath.Join(dir, "store", "daily.json")
	require.FileExists(t, stored)

	// The restart: the stored result is exported before the first scrape.
	base, stop = startServer(t, queryServeConfig(dir, "", nil))
	m := queryMetrics(t, base)
	assert.Equal(t, first[`esm_query_value{query=daily}`], m[`esm_query_value{query=daily}`])
	assert.Equal(t, first[`esm_query_last_success_timestamp_seconds{query=daily}`], m[`esm_query_last_success_timestamp_seconds{query=daily}`])
	time.Sleep(300 * time.Millisecond) // time for a run that must not happen
	assert.Equal(t, int64(1), runs(), "the database saw a second run")
	require.NoError(t, stop())
	assert.Equal(t, int64(1), runs())

	// A corrupt stored result: reported, and the query runs again.
	require.NoError(t, os.WriteFile(stored, []byte("{not json"), 0o644))
	var logs lockedBuffer
	base, stop = startServer(t, queryServeConfig(dir, "", slog.New(slog.NewJSONHandler(&logs, nil))))
	eventually(t, "the run after a corrupt stored result", func() bool { return runs() == 2 })
	eventually(t, "the new result exported", func() bool { return queryMetrics(t, base)[`esm_query_value{query=daily}`] > 0 })
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "stored result of query daily at "+stored)
	b, err := os.ReadFile(stored)
	require.NoError(t, err)
	assert.True(t, json.Valid(b), "the store holds the new result")
}

// TestServeQueriesReloadOnChange: a query file added, broken, fixed and
// removed while esm serve runs; a broken set is logged with
// file:line:col and the last good set keeps running.
func TestServeQueriesReloadOnChange(t *testing.T) {
	dir, _ := serveQueryFixture(t, map[string]string{"orders.yaml": ordersQuery})
	var logs lockedBuffer
	base, _ := startServer(t, queryServeConfig(dir, "", slog.New(slog.NewJSONHandler(&logs, nil))))
	eventually(t, "orders_by_country", func() bool {
		return queryMetrics(t, base)[`esm_query_value{country=fr,query=orders_by_country}`] == 12.5
	})

	total := filepath.Join(dir, "queries", "total.yaml")
	require.NoError(t, os.WriteFile(total, []byte("name: total\ndb: shop\nquery: SELECT count(*) FROM orders\nintervall: PT1H\n"), 0o644))
	eventually(t, "the failed reload in the log", func() bool {
		return len(logLines(t, logs.String(), "query reload failed; keeping the last good queries")) > 0
	})
	line := logLines(t, logs.String(), "query reload failed; keeping the last good queries")[0]
	assert.Equal(t, []any{total + `:4:1: unknown key "intervall"; known keys: name, description, db, query, labels, interval, timeout, max_series, monitors, alert_channel`}, line["problems"])
	m := queryMetrics(t, base)
	assert.Equal(t, 12.5, m[`esm_query_value{country=fr,query=orders_by_country}`], "the last good set runs on")
	assert.NotContains(t, m, `esm_query_value{query=total}`)
	assert.Equal(t, "queries: 1 loaded from "+filepath.Join(dir, "queries")+" (the last reload failed; see the log)\n", readyz(t, base))

	require.NoError(t, os.WriteFile(total, []byte("name: total\ndb: shop\nquery: SELECT count(*) FROM orders\ninterval: PT1H\n"), 0o644))
	eventually(t, "the new query", func() bool { return queryMetrics(t, base)[`esm_query_value{query=total}`] == 3 })

	require.NoError(t, os.Remove(filepath.Join(dir, "queries", "orders.yaml")))
	eventually(t, "the removed query withdrawn", func() bool {
		for k := range queryMetrics(t, base) {
			if strings.Contains(k, "query=orders_by_country") {
				return false
			}
		}
		return true
	})
	assert.Equal(t, "queries: 1 loaded from "+filepath.Join(dir, "queries")+"\n", readyz(t, base))
}

// readyz returns the body of base/readyz, which must answer 200.
func readyz(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body bytes.Buffer
	_, err = body.ReadFrom(resp.Body)
	require.NoError(t, err)
	return body.String()
}

// TestServeQueriesReloadOnSIGHUP: with the watcher's debounce out of
// reach, SIGHUP alone reloads the query files.
func TestServeQueriesReloadOnSIGHUP(t *testing.T) {
	dir, _ := serveQueryFixture(t, map[string]string{"orders.yaml": ordersQuery})
	cfg := queryServeConfig(dir, "", nil)
	cfg.debounce = time.Hour
	base, _ := startServer(t, cfg)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "queries", "total.yaml"), []byte("name: total\ndb: shop\nquery: SELECT count(*) FROM orders\n"), 0o644))
	time.Sleep(100 * time.Millisecond)
	assert.NotContains(t, queryMetrics(t, base), `esm_query_value{query=total}`, "reloaded before SIGHUP")
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	eventually(t, "the query of the new file", func() bool { return queryMetrics(t, base)[`esm_query_value{query=total}`] == 3 })
}

// TestServeQueriesStartErrors: --role queries with nothing to run, or
// with a broken query file, does not start, and says why.
func TestServeQueriesStartErrors(t *testing.T) {
	empty, _ := serveQueryFixture(t, map[string]string{"README.txt": "not a query file"})
	broken, _ := serveQueryFixture(t, map[string]string{"bad.yaml": "name: bad\ndb: nowhere\nquery: SELECT 1\n"})
	tests := []struct {
		name, dir, want string
	}{
		{"no query file", empty, "no queries under " + filepath.Join(empty, "queries")},
		{"missing directory", filepath.Join(empty, "nope"), "read query files"},
		{"broken file", broken, filepath.Join(broken, "queries", "bad.yaml") + `:2:5: unknown database "nowhere": esm.yaml declares shop`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := queryServeConfig(tt.dir, "", nil)
			cfg.configFile = filepath.Join(empty, "esm.yaml")
			if tt.name == "broken file" {
				cfg.configFile = filepath.Join(broken, "esm.yaml")
			}
			_, err := newServer(cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestQuerySinkCountsNewFailuresOnly: a failed result loaded from the
// store is exported but not counted again; a failed run is.
func TestQuerySinkCountsNewFailuresOnly(t *testing.T) {
	m, err := metrics.New(metrics.Options{Env: "prod"})
	require.NoError(t, err)
	sink := querySink{m.Queries()}
	r := queries.Result{Query: "q", Labels: []string{"country"}, Rows: []queries.Row{{Labels: []string{"fr"}, Value: 2}}, Error: "boom", Time: time.Now(), Loaded: true}
	sink.Set("q", r)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	got := queryMetrics(t, srv.URL)
	assert.Equal(t, 0.0, got[`esm_query_failures_total{query=q}`])
	assert.Equal(t, 2.0, got[`esm_query_value{country=fr,query=q}`])
	r.Loaded = false
	sink.Set("q", r)
	assert.Equal(t, 1.0, queryMetrics(t, srv.URL)[`esm_query_failures_total{query=q}`])
	sink.Delete("q")
	assert.Empty(t, queryMetrics(t, srv.URL))
}

// TestServeDoesNotWarnOfDSNVariables: an ESM_ variable that esm.yaml
// names as a database's dsn_env is no mistyped setting.
func TestServeDoesNotWarnOfDSNVariables(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"esm.yaml": "databases:\n  main: {driver: postgres, dsn_env: ESM_MAIN_DSN}\n"})
	t.Setenv("ESM_MAIN_DSN", "postgres://u:hush@db/main")
	t.Setenv("ESM_MAIN_DNS", "x")
	r := runESM(t, "serve", "--statsd", "off", "--env", "moon", "--listen", "127.0.0.1:0", "--schemas", "../../schemas", "--config", filepath.Join(dir, "esm.yaml"))
	assert.Equal(t, exitFailure, r.code)
	lines := logLines(t, r.stderr, "unknown ESM_ environment variable")
	require.Len(t, lines, 1, r.stderr)
	assert.Equal(t, "ESM_MAIN_DNS", lines[0]["name"], "the mistyped one is still named")
	assert.NotContains(t, r.stderr, "hush")
}

// TestServeQueriesMaxSeriesIsAFailure: a query returning more rows than
// its max_series exports no series at all, counts a failure and logs why.
func TestServeQueriesMaxSeriesIsAFailure(t *testing.T) {
	dir, _ := serveQueryFixture(t, map[string]string{"rows.yaml": `name: every_order
db: shop
query: SELECT rowid AS id, amount FROM orders
labels: [id]
max_series: 2
interval: PT1H
`})
	var logs lockedBuffer
	base, _ := startServer(t, queryServeConfig(dir, "", slog.New(slog.NewJSONHandler(&logs, nil))))
	var m map[string]float64
	eventually(t, "the failure", func() bool {
		m = queryMetrics(t, base)
		return m[`esm_query_failures_total{query=every_order}`] == 1
	})
	for k := range m {
		assert.False(t, strings.HasPrefix(k, "esm_query_value{"), "a series of a result over max_series: %s", k)
	}
	assert.Equal(t, 0.0, m[`esm_query_last_success_timestamp_seconds{query=every_order}`])
	lines := logLines(t, logs.String(), "query failed")
	require.Len(t, lines, 1, logs.String())
	assert.Equal(t, "query every_order: returned more than 2 rows (max_series); aggregate the query or raise max_series", lines[0]["error"])
}

// TestServeQueriesStatsdNameFollowsQueryMetric: the DogStatsD gauge is
// sent under the environment's query_metric, the metric the query
// monitors' Datadog queries watch, so that a renamed metric still has
// monitors on it.
func TestServeQueriesStatsdNameFollowsQueryMetric(t *testing.T) {
	statsd, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer statsd.Close()
	dir, _ := serveQueryFixture(t, map[string]string{"orders.yaml": ordersQuery})
	conf, err := os.ReadFile(filepath.Join(dir, "esm.yaml"))
	require.NoError(t, err)
	writeFiles(t, dir, map[string]string{"esm.yaml": string(conf) + "environments:\n  prod: {query_metric: shop.data.value}\n"})
	_, stop := startServer(t, queryServeConfig(dir, statsd.LocalAddr().String(), nil))
	defer stop()
	buf := make([]byte, 65536)
	want := "shop.data.value:12.5|g|#query:orders_by_country,country:fr,env:prod"
	for {
		require.NoError(t, statsd.SetReadDeadline(time.Now().Add(10*time.Second)))
		n, err := statsd.Read(buf)
		require.NoError(t, err, "waiting for %s", want)
		lines := strings.Split(string(buf[:n]), "\n")
		for _, l := range lines {
			assert.False(t, strings.HasPrefix(l, "esm.query.value:"), "the default name is not used: %s", l)
		}
		if slices.Contains(lines, want) {
			return
		}
	}
}
