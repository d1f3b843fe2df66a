package reconcile_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/datadog"
	"github.com/esm-dev/esm/internal/datadog/ddtest"
	"github.com/esm-dev/esm/internal/forge"
	"github.com/esm-dev/esm/internal/reconcile"
)

const ordersQuery = `name: orders
description: The orders of the day
db: main
query: SELECT country, count(*) FROM orders GROUP BY country
labels: [country]
alert_channel: team-data
monitors:
  - threshold: {below: 10, warning: 20}
  - anomaly: {deviations: 3}
    alert_channel: {critical: pagerduty-data}
`

// The change set counts the query files under the query directory, at
// both sides: their monitors are planned, their queries are in scope, a
// YAML file elsewhere is not a query file.
func TestChangeSetWithQueryFiles(t *testing.T) {
	head := map[string]string{
		"queries/orders.yaml": ordersQuery,
		"deploy/values.yaml":  "name: not a query\n",
	}
	base := map[string]string{
		"queries/old.yaml": "name: old\ndb: main\nquery: SELECT 1\nmonitors:\n  - threshold: {above: 5}\n",
	}
	read := func(files map[string]string) reconcile.ReadFunc {
		return func(name string) ([]byte, error) {
			if s, ok := files[name]; ok {
				return []byte(s), nil
			}
			return nil, fs.ErrNotExist
		}
	}
	changes := []forge.ChangedFile{
		{Path: "queries/orders.yaml", Status: forge.FileAdded},
		{Path: "queries/old.yaml", Status: forge.FileRemoved},
		{Path: "deploy/values.yaml", Status: forge.FileAdded},
	}
	assert.True(t, reconcile.ChangesMonitors(changes, "queries"))
	assert.False(t, reconcile.ChangesMonitors(changes[2:], "queries"))

	cs, err := reconcile.LoadChangeSet(config.Default(), "prod", changes, read(head), read(base), "queries")
	require.NoError(t, err)
	require.Empty(t, cs.Diags)
	assert.Equal(t, []string{"queries/orders.yaml"}, cs.Files)
	var names []string
	for _, s := range cs.Specs {
		names = append(names, s.Name)
		assert.Equal(t, "queries/orders.yaml", s.Target.File)
	}
	assert.Equal(t, []string{"Query Anomaly with orders", "Query Threshold with orders"}, names)
	assert.Equal(t, map[string]bool{"query:orders": true, "query:old": true}, cs.Scope.Records)
	assert.True(t, cs.Scope.Names["Query Threshold with old"], "the removed query's monitor is in scope, to be deleted")

	anomaly := cs.Specs[0]
	assert.Equal(t, annotations.Channels{Critical: []string{"pagerduty-data"}}, anomaly.Target.Channels, "a monitor's alert_channel replaces the query's")
	assert.Equal(t, annotations.Channels{Always: []string{"team-data"}}, cs.Specs[1].Target.Channels)
	assert.Equal(t, 8, cs.Specs[1].Pos.Line)

	// Another directory of query files.
	_, err = reconcile.LoadChangeSet(config.Default(), "prod", changes, read(head), read(base), "deploy")
	require.NoError(t, err)
	qhead, _ := reconcile.ChangedQueryFiles(changes, "deploy/")
	assert.Equal(t, []string{"deploy/values.yaml"}, qhead)
}

// A query file's problems are the change's, each at its value.
func TestChangeSetQueryFileProblems(t *testing.T) {
	src := "name: orders\ndb: main\nquery: SELECT 1\nmonitors:\n  - threshold: {below: 1, windw: last_1h}\n  - treshold: {}\n"
	read := func(name string) ([]byte, error) { return []byte(src), nil }
	cs, err := reconcile.LoadChangeSet(config.Default(), "prod", []forge.ChangedFile{{Path: "queries/orders.yaml", Status: forge.FileAdded}}, read, read, "queries")
	require.NoError(t, err)
	assert.Equal(t, strings.Join([]string{
		`queries/orders.yaml:6:5: unknown monitor "treshold": did you mean "threshold"?`,
	}, "\n"), cs.Diags.Error(), "a file with an error in its shape gives no query")

	src = "name: orders\ndb: main\nquery: SELECT 1\nmonitors:\n  - threshold: {below: 1, windw: last_1h}\n  - threshold: {above: 3}\n"
	cs, err = reconcile.LoadChangeSet(config.Default(), "prod", []forge.ChangedFile{{Path: "queries/orders.yaml", Status: forge.FileAdded}}, read, read, "queries")
	require.NoError(t, err)
	assert.Equal(t, strings.Join([]string{
		`queries/orders.yaml:5:34: threshold: unknown parameter "windw" for query_threshold: did you mean "window"?`,
		`queries/orders.yaml:6:5: warning: the threshold monitor of query orders notifies no one: add alert_channel to the query or to the monitor`,
	}, "\n"), cs.Diags.Error())
}

// A query monitor whose name another monitor has is an error at it,
// naming the other's position.
func TestMergeSpecsNameClash(t *testing.T) {
	record := annotations.Spec{Name: "Query Threshold with orders", Target: annotations.Target{FullName: "com.acme.orders"},
		Pos: annotations.Position{File: "schemas/shop.avdl", Line: 4, Column: 3}}
	query := annotations.Spec{Name: "Query Threshold with orders", Target: annotations.Target{FullName: "query:orders"},
		Pos: annotations.Position{File: "queries/orders.yaml", Line: 8, Column: 5}}
	other := annotations.Spec{Name: "Query Anomaly with orders", Target: annotations.Target{FullName: "query:orders"}}
	specs, diags := reconcile.MergeSpecs([]annotations.Spec{record}, []annotations.Spec{query, other})
	require.Len(t, specs, 2)
	assert.Equal(t, "Query Anomaly with orders", specs[0].Name)
	assert.Equal(t, "com.acme.orders", specs[1].Target.FullName, "the first one is kept")
	assert.Equal(t, `queries/orders.yaml:8:5: monitor "Query Threshold with orders" of query:orders has the same name as the monitor of com.acme.orders at schemas/shop.avdl:4:3: monitor names must be unique`, diags.Error())
}

// The bot plans and registers the monitors of a query file a pull
// request adds, against the fake Datadog; a second register has nothing
// to do; a pull request that removes the file deletes them and leaves the
// schemas' monitors alone.
func TestBotRegistersQueryMonitors(t *testing.T) {
	dd := ddtest.NewServer(t)
	store, err := datadog.New(datadog.Config{APIKey: "k", AppKey: "a", URL: dd.URL})
	require.NoError(t, err)
	h := newHarness(t, func(r *reconcile.Runner) {
		r.Backends = func(string) (reconcile.Backend, error) {
			return reconcile.Backend{Render: datadog.Render, Store: store, Description: "fake Datadog"}, nil
		}
	})
	h.srv.SetPermission(repoName, "alice", "write")
	schemas := map[string]string{"schemas/shop.avdl": protocol("Shop", "Cart")}
	withQuery := map[string]string{"schemas/shop.avdl": protocol("Shop", "Cart"), "queries/orders.yaml": ordersQuery}

	// The schemas' monitor first, from another pull request.
	h.push(nil, schemas)
	h.comment("alice", "esm prod register")
	require.Len(t, dd.Monitors(), 1)

	h.push(schemas, withQuery)
	h.comment("alice", "esm prod plan")
	plan := h.bot()
	require.Len(t, plan, 2)
	assert.Contains(t, plan[1], "Query Threshold with orders")
	assert.Contains(t, plan[1], "Query Anomaly with orders")
	assert.NotContains(t, plan[1], "Traffic Anomaly with Cart", "the schema is not in the change set")

	h.comment("alice", "esm prod register")
	byName := map[string]ddtest.Monitor{}
	for _, m := range dd.Monitors() {
		byName[m.Name] = m
	}
	require.Len(t, byName, 3)
	th := byName["Query Threshold with orders"]
	assert.Equal(t, "avg(last_1h):avg:esm.query.value{query:orders,env:prod} by {country} < 10", th.Query)
	assert.Contains(t, th.Tags, "esm_file:queries/orders.yaml")
	assert.Contains(t, th.Tags, "esm_record:query:orders")
	assert.Contains(t, th.Message, "@slack-team-data")
	assert.Equal(t, "avg(last_4h):anomalies(avg:esm.query.value{query:orders,env:prod} by {country}, 'agile', 3, direction='both', alert_window='last_15m', interval=60, count_default_zero='false', seasonality='weekly') >= 1",
		byName["Query Anomaly with orders"].Query)

	h.comment("alice", "esm prod register")
	register := ""
	for _, c := range h.bot() {
		if strings.HasPrefix(c, "<!-- esm:prod:register") {
			register = c
		}
	}
	assert.Contains(t, register, "**No changes.**", "what Datadog stored plans no change")

	// Removing the query file deletes its monitors only.
	h.push(withQuery, schemas)
	h.comment("alice", "esm prod register")
	var left []string
	for _, m := range dd.Monitors() {
		left = append(left, m.Name)
	}
	assert.Equal(t, []string{"Traffic Anomaly with Cart"}, left)
}

// The query monitors' kinds are not annotations: a record asking for one
// is told where it belongs.
func TestQueryKindOnARecord(t *testing.T) {
	src := "@namespace(\"com.acme\")\nprotocol Shop {\n  @alert_channel(\"team-a\")\n  @query_threshold({\"below\": 1})\n  record Cart { string id; }\n}\n"
	read := func(name string) ([]byte, error) { return []byte(src), nil }
	cs, err := reconcile.LoadChangeSet(config.Default(), "prod", []forge.ChangedFile{{Path: "schemas/shop.avdl", Status: forge.FileAdded}}, read, read, "queries")
	require.NoError(t, err)
	assert.Empty(t, cs.Specs)
	assert.Contains(t, cs.Diags.Error(), "schemas/shop.avdl:4:3: @query_threshold is a monitor of query files, not an annotation: declare it under monitors: in a query file (queries/)")
}

// The environment's query_metric and env_tag, and esm.yaml's defaults
// for the query kinds, reach the monitors of query files; the file's
// entry wins over them.
func TestQuerySpecsLayers(t *testing.T) {
	cfg, err := config.Parse("esm.yaml", []byte(`defaults:
  query_threshold: {window: last_4h, priority: 3}
environments:
  prod:
    query_metric: shop.esm_query_value
    env_tag: production
    defaults:
      query_threshold: {priority: 2}
`))
	require.NoError(t, err)
	read := func(name string) ([]byte, error) { return []byte(ordersQuery), nil }
	cs, err := reconcile.LoadChangeSet(cfg, "prod", []forge.ChangedFile{{Path: "queries/orders.yaml", Status: forge.FileAdded}}, read, read, "queries")
	require.NoError(t, err)
	require.Empty(t, cs.Diags)
	ds, err := reconcile.Render("prod", cs.Specs, datadog.Render)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	assert.Equal(t, "Query Threshold with orders", ds[1].Name)
	assert.Equal(t, "avg(last_4h):avg:shop.esm_query_value{query:orders,env:production} by {country} < 10", ds[1].Query)
	assert.Equal(t, int64(2), ds[1].Priority, "the environment's default over the file's defaults")
	assert.Contains(t, ds[1].Tags, "env:production")
}
