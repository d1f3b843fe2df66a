package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ordersQueryFile = `name: orders
description: The orders of the day, per country
db: main
query: SELECT country, count(*) FROM orders GROUP BY country
labels: [country]
alert_channel: team-data
monitors:
  - threshold: {below: 10, warning: 20}
  - anomaly: {deviations: 3}
`

const stockQueryFile = `name: stock
db: main
query: SELECT count(*) FROM stock WHERE quantity < 0
monitors:
  - threshold: {above: 0, window: last_15m}
    alert_channel: [team-stock, pagerduty-stock]
`

// queryRepo is a repository with an annotated schema and two query files
// with monitors; it runs from the repository root, against the fake
// Datadog.
func queryRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(root, ".git"), 0o755))
	writeFiles(t, root, map[string]string{
		"schemas/cart.avdl":      annotatedIDL([]string{"Cart"}, all("Cart")),
		"queries/orders.yaml":    ordersQueryFile,
		"queries/sub/stock.yml":  stockQueryFile,
		"queries/.hidden/x.yaml": "not: a query\n",
		"queries/README.md":      "not a query file\n",
		"esm.yaml":               "databases:\n  main: {driver: sqlite, dsn: \":memory:\"}\n",
		"deploy/kustomize.yaml":  "kind: Kustomization\n",
	})
	t.Chdir(root)
	return root
}

// The monitors of the query files under queries/ go through plan and
// apply with the schemas' monitors: Datadog gets them as the issue
// writes them, a second plan is clean, PATHs under queries/ scope the
// plan to their files' monitors.
func TestQueryMonitorsPlanAndApply(t *testing.T) {
	root := queryRepo(t)
	dd := useDatadog(t)

	r := runESM(t, "apply", "--env", "prod", "--yes")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "Apply complete: 4 created, 0 updated, 0 deleted, 0 failed.")
	queries := map[string]string{}
	for _, m := range dd.Monitors() {
		queries[m.Name] = m.Query
	}
	assert.Equal(t, map[string]string{
		"Traffic Anomaly with Cart":   queries["Traffic Anomaly with Cart"],
		"Query Threshold with orders": "avg(last_1h):avg:esm.query.value{query:orders,env:prod} by {country} < 10",
		"Query Anomaly with orders":   "avg(last_4h):anomalies(avg:esm.query.value{query:orders,env:prod} by {country}, 'agile', 3, direction='both', alert_window='last_15m', interval=60, count_default_zero='false', seasonality='weekly') >= 1",
		"Query Threshold with stock":  "avg(last_15m):avg:esm.query.value{query:stock,env:prod} > 0",
	}, queries)

	r = runESM(t, "plan", "--env", "prod", "--detailed-exitcode")
	assert.Equal(t, exitOK, r.code, "what Datadog stored plans no change: %s%s", r.stdout, r.stderr)

	// A PATH under queries/ plans its files' monitors only.
	writeFiles(t, root, map[string]string{"queries/orders.yaml": strings.Replace(ordersQueryFile, "below: 10", "below: 5", 1)})
	assert.Equal(t, map[string]string{"Query Threshold with orders": "update", "Query Anomaly with orders": "unchanged"},
		planActions(t, "queries/orders.yaml"))
	assert.Equal(t, map[string]string{"Query Threshold with stock": "unchanged"}, planActions(t, "queries/sub"))
	assert.Equal(t, map[string]string{"Traffic Anomaly with Cart": "unchanged"}, planActions(t, "schemas/cart.avdl"))
	assert.Len(t, planActions(t, "schemas/cart.avdl", "queries/sub/stock.yml"), 2)

	// A removed query file's monitors are deleted by a plan of the whole
	// tree, not by one of another file.
	require.NoError(t, os.Remove(filepath.Join(root, "queries", "sub", "stock.yml")))
	assert.NotContains(t, planActions(t, "queries/orders.yaml"), "Query Threshold with stock")
	assert.Equal(t, map[string]string{"Traffic Anomaly with Cart": "unchanged", "Query Threshold with orders": "update",
		"Query Anomaly with orders": "unchanged", "Query Threshold with stock": "delete"}, planActions(t))

	// The directory from ESM_QUERIES, or --queries, must exist.
	t.Setenv("ESM_QUERIES", "nope")
	r = runESM(t, "plan", "--env", "prod")
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, "esm: nope: no such file or directory\n", r.stderr)
	r = runESM(t, "plan", "--env", "prod", "--queries", "queries")
	assert.Equal(t, exitOK, r.code, "the flag wins over the variable: %s", r.stderr)
	t.Setenv("ESM_QUERIES", "")

	// A PATH under queries/ without query files plans nothing.
	writeFiles(t, root, map[string]string{"queries/empty/README.md": "nothing\n"})
	r = runESM(t, "plan", "--env", "prod", "queries/empty")
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, "esm: queries/empty: no .yaml or .yml query file in this directory\n", r.stderr)
}

// Without a queries directory nothing changes: the schemas' monitors
// only, no error.
func TestNoQueriesDirectory(t *testing.T) {
	root := queryRepo(t)
	useLocalStore(t)
	require.NoError(t, os.RemoveAll(filepath.Join(root, "queries")))
	assert.Equal(t, map[string]string{"Traffic Anomaly with Cart": "create"}, planActions(t))
	r := runESM(t, "validate")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "validated 1 file: 0 errors\n", r.stdout)
}

// esm validate checks the query files and their monitors, every problem
// at its file:line:col, in every environment.
func TestValidateQueryMonitors(t *testing.T) {
	root := queryRepo(t)
	r := runESM(t, "validate")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "validated 3 files: 0 errors\n", r.stdout, "the schema and the two query files")
	assert.Empty(t, r.stderr)

	writeFiles(t, root, map[string]string{
		"queries/bad.yaml": `name: bad
db: warehouse
query: SELECT 1
monitors:
  - threshold: {below: 1, above: 2}
  - threshold: {blow: 1}
  - anomaly: {deviations: 30, algorithm: basic, seasonality: daily}
  - anomaly: {}
  - forecast: {}
`,
		"queries/twice.yaml": `name: twice
db: main
query: SELECT 1
alert_channel: team-data
monitors:
  - threshold: {below: 1}
  - threshold: {above: 100}
`,
	})
	r = runESM(t, "validate")
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, "validated 5 files: 3 errors in 2 files\n", r.stdout)
	assert.Equal(t, strings.Join([]string{
		`queries/bad.yaml:2:5: unknown database "warehouse": esm.yaml declares main`,
		`queries/bad.yaml:9:5: unknown monitor "forecast"; a monitor is one of anomaly, threshold, with an optional alert_channel`,
		`queries/twice.yaml:7:5: monitor "Query Threshold with twice" of query:twice has the same name as the monitor of query:twice at queries/twice.yaml:6:5: monitor names must be unique`,
	}, "\n")+"\n", r.stderr, "a file with an error in its keys gives no query: its monitors are not checked")

	writeFiles(t, root, map[string]string{"queries/bad.yaml": `name: bad
db: main
query: SELECT 1
monitors:
  - threshold: {below: 1, above: 2}
  - threshold: {blow: 1}
  - anomaly: {deviations: 30, algorithm: basic, seasonality: daily}
  - anomaly: {}
`})
	r = runESM(t, "validate", "--env", "prod", "queries/bad.yaml")
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, "validated 1 file: 3 errors in 1 file, 1 warning\n", r.stdout)
	assert.Equal(t, strings.Join([]string{
		`queries/bad.yaml:5:34: threshold: above and below cannot both be set: a threshold alerts on one side (below is set at queries/bad.yaml:5:24)`,
		`queries/bad.yaml:6:23: threshold: unknown parameter "blow" for query_threshold: did you mean "below"?`,
		`queries/bad.yaml:7:27: deviations must be greater than 0 and at most 10, not 30`,
		`queries/bad.yaml:8:5: warning: the anomaly monitor of query bad notifies no one: add alert_channel to the query or to the monitor`,
	}, "\n")+"\n", r.stderr, "each problem at the value at fault; the anomaly that failed makes no monitor to clash with")
}

// --changed-since counts the query files changed under queries/, as the
// bot does: their monitors are planned, the others left alone.
func TestPlanChangedSinceQueryFiles(t *testing.T) {
	useLocalStore(t)
	root := queryRepo(t)
	gitRepo(t, root)
	r := runESM(t, "apply", "--env", "prod", "--yes")
	require.Equal(t, exitOK, r.code, r.stderr)

	writeFiles(t, root, map[string]string{
		"queries/orders.yaml":   strings.Replace(ordersQueryFile, "below: 10", "below: 5", 1),
		"queries/new.yaml":      "name: fresh\ndb: main\nquery: SELECT 1\nalert_channel: team-data\nmonitors:\n  - threshold: {above: 3}\n",
		"deploy/kustomize.yaml": "kind: Kustomization\nchanged: true\n",
	})
	assert.Equal(t, map[string]string{"Query Threshold with orders": "update", "Query Anomaly with orders": "unchanged", "Query Threshold with fresh": "create"},
		planActions(t, "--changed-since", "base"))
}

// The default queries directory may hold no query file: no query
// monitors, no error; one named with --queries must hold some.
func TestEmptyQueriesDirectory(t *testing.T) {
	root := queryRepo(t)
	useLocalStore(t)
	require.NoError(t, os.RemoveAll(filepath.Join(root, "queries")))
	writeFiles(t, root, map[string]string{"queries/README.md": "Query files go here.\n"})
	assert.Equal(t, map[string]string{"Traffic Anomaly with Cart": "create"}, planActions(t))
	r := runESM(t, "plan", "--env", "prod", "--queries", "queries")
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, "esm: queries: no .yaml or .yml query file in this directory\n", r.stderr)
}
