package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

// queryFixture is a directory with esm.yaml, a SQLite database and query
// files.
func queryFixture(t *testing.T, queryFiles map[string]string) (dir string) {
	t.Helper()
	dir = t.TempDir()
	dbPath := filepath.Join(dir, "shop.db")
	db, err := sql.Open("sqlite", dbPath)
	require.NoError(t, err)
	defer db.Close()
	for _, stmt := range []string{
		"CREATE TABLE orders (country TEXT, amount REAL)",
		"INSERT INTO orders VALUES ('fr', 10), ('fr', 2.5), ('de', 4)",
	} {
		_, err := db.ExecContext(context.Background(), stmt)
		require.NoError(t, err)
	}
	files := map[string]string{
		"esm.yaml": "databases:\n  shop: {driver: sqlite, dsn: " + dbPath + "}\n  warehouse: {driver: postgres, dsn_env: ESM_TEST_UNSET_WAREHOUSE_DSN}\n",
	}
	for name, content := range queryFiles {
		files["queries/"+name] = content
	}
	return writeFiles(t, dir, files)
}

const orderQueries = `name: orders_by_country
db: shop
query: SELECT country, sum(amount) AS total FROM orders GROUP BY country ORDER BY country
labels: [country]
---
name: orders
db: shop
query: SELECT count(*) FROM orders
---
name: broken
db: shop
query: SELECT missing_column FROM orders
---
name: warehouse_rows
db: warehouse
query: SELECT 1
`

func TestQueryRun(t *testing.T) {
	dir := queryFixture(t, map[string]string{"orders.yaml": orderQueries})
	args := func(names ...string) []string {
		return append([]string{"query", "run", "--config", filepath.Join(dir, "esm.yaml"), "--queries", filepath.Join(dir, "queries")}, names...)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // a regexp
		stderr string // a regexp
	}{
		{
			name: "labels", args: args("orders_by_country"), code: exitOK,
			stdout: `^query orders_by_country \(db shop\): 2 rows in \S+
  country  value
  de       4
  fr       12.5
esm_query_value\{query="orders_by_country",country="de"\} 4
esm_query_value\{query="orders_by_country",country="fr"\} 12.5
$`,
			stderr: `^$`,
		},
		{
			name: "two queries", args: args("orders", "orders_by_country"), code: exitOK,
			stdout: `^query orders \(db shop\): 1 row in \S+
  value
  3
esm_query_value\{query="orders"\} 3

query orders_by_country`,
			stderr: `^$`,
		},
		{
			name: "failing query", args: args("broken", "orders"), code: exitFailure,
			stdout: `^\nquery orders \(db shop\): 1 row`,
			stderr: `^esm: query broken: .*no such column: missing_column`,
		},
		{
			name: "unknown query", args: args("nope"), code: exitFailure,
			stderr: `^esm: unknown query "nope"; queries under .*/queries: broken, orders, orders_by_country, warehouse_rows\n$`,
		},
		{
			name: "DSN variable not set", args: args("warehouse_rows"), code: exitFailure,
			stderr: `esm\.yaml:3:14: databases\.warehouse: environment variable ESM_TEST_UNSET_WAREHOUSE_DSN is not set\n$`,
		},
		{
			name: "no name", args: []string{"query", "run"}, code: exitFailure,
			stderr: `^esm: run: missing arguments: want NAME\.\.\.`,
		},
		{
			name: "no subcommand", args: []string{"query"}, code: exitFailure,
			stderr: `^esm: query: missing command \(run\)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runESM(t, tt.args...)
			assert.Equal(t, tt.code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			if tt.stdout != "" {
				assert.Regexp(t, regexp.MustCompile(tt.stdout), r.stdout)
			}
			assert.Regexp(t, regexp.MustCompile(tt.stderr), r.stderr)
		})
	}
}

func TestQueryRunInvalidFiles(t *testing.T) {
	dir := queryFixture(t, map[string]string{
		"good.yaml": "name: orders\ndb: shop\nquery: SELECT count(*) FROM orders\n",
		"bad.yaml":  "name: orders\ndb: nowhere\nquery: SELECT 1\ninterval: 5m\n",
	})
	r := runESM(t, "query", "run", "--config", filepath.Join(dir, "esm.yaml"), "--queries", filepath.Join(dir, "queries"), "orders")
	assert.Equal(t, exitFailure, r.code)
	bad := filepath.Join(dir, "queries", "bad.yaml")
	assert.Equal(t, bad+`:2:5: unknown database "nowhere": esm.yaml declares shop, warehouse`+"\n"+
		bad+`:4:11: interval: "5m" is not an ISO 8601 duration (such as PT5M, PT1H30M, P1D or P1W)`+"\n", r.stderr)
	assert.Empty(t, r.stdout)
}

func TestQueryRunEnvironment(t *testing.T) {
	dir := queryFixture(t, map[string]string{"orders.yaml": orderQueries})
	t.Setenv("ESM_CONFIG", filepath.Join(dir, "esm.yaml"))
	t.Setenv("ESM_QUERIES", filepath.Join(dir, "queries"))
	r := runESM(t, "query", "run", "orders")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, `esm_query_value{query="orders"} 3`)
}

// The example under queries/ runs on SQLite's in-memory database, as the
// README shows.
func TestQueryRunRepositoryExample(t *testing.T) {
	cfg := writeFiles(t, t.TempDir(), map[string]string{"esm.yaml": "databases:\n  example: {driver: sqlite, dsn: \":memory:\"}\n"})
	r := runESM(t, "query", "run", "--config", filepath.Join(cfg, "esm.yaml"), "--queries", filepath.Join("..", "..", "queries"), "example_orders_by_country")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `^query example_orders_by_country \(db example\): 2 rows in \S+
  country  value
  de       4
  fr       12.5
esm_query_value\{query="example_orders_by_country",country="de"\} 4
esm_query_value\{query="example_orders_by_country",country="fr"\} 12.5
$`, r.stdout)
}
