package queries

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/queryfile"
)

// shapeCase is a query whose result fits, or does not fit, its
// declaration. TABLE in sql is replaced by the test's table.
type shapeCase struct {
	name      string
	sql       string
	labels    []string
	maxSeries int
	want      []Row
	err       string
}

// shapeCases hold for every database; the table has the columns src
// (text, one NULL) and n (integer): ('a', 1), ('a', 2), ('b', 3), (NULL, 4).
var shapeCases = []shapeCase{
	{name: "count", sql: "SELECT count(*) FROM TABLE", want: []Row{{Labels: []string{}, Value: 4}}},
	{name: "labels", sql: "SELECT src, sum(n) AS total FROM TABLE WHERE src IS NOT NULL GROUP BY src ORDER BY src", labels: []string{"src"},
		want: []Row{{Labels: []string{"a"}, Value: 3}, {Labels: []string{"b"}, Value: 3}}},
	{name: "NULL label is empty", sql: "SELECT src, n FROM TABLE WHERE n = 4", labels: []string{"src"}, want: []Row{{Labels: []string{""}, Value: 4}}},
	{name: "decimal as text", sql: "SELECT '12.5' AS v", want: []Row{{Labels: []string{}, Value: 12.5}}},
	{name: "float", sql: "SELECT 0.25 AS v", want: []Row{{Labels: []string{}, Value: 0.25}}},
	{name: "no rows", sql: "SELECT n FROM TABLE WHERE n > 100", want: nil},
	{name: "text value", sql: "SELECT 'abc' AS v", err: `row 1: value column "v": "abc" is not a finite number`},
	{name: "NULL value", sql: "SELECT max(n) AS v FROM TABLE WHERE n > 100", err: `row 1: value column "v": is NULL; use COALESCE(value, 0) to export a value for it`},
	{name: "two values", sql: "SELECT src, n, n AS m FROM TABLE", labels: []string{"src"}, err: `the result must have exactly one column besides the labels, the value; it has 2 (n, m)`},
	{name: "no value", sql: "SELECT src FROM TABLE", labels: []string{"src"}, err: `the result must have exactly one column besides the labels, the value; it has 0 ()`},
	{name: "missing label", sql: "SELECT n FROM TABLE", labels: []string{"country"}, err: `label column "country" is not in the result (columns: n)`},
	{name: "more rows than max_series", sql: "SELECT n, n AS v FROM TABLE", labels: []string{"n"}, maxSeries: 3, err: `returned more than 3 rows (max_series); aggregate the query or raise max_series`},
	{name: "exactly max_series", sql: "SELECT n, n AS v FROM TABLE WHERE n < 4 ORDER BY n", labels: []string{"n"}, maxSeries: 3,
		want: []Row{{Labels: []string{"1"}, Value: 1}, {Labels: []string{"2"}, Value: 2}, {Labels: []string{"3"}, Value: 3}}},
	{name: "repeated labels", sql: "SELECT src, n FROM TABLE WHERE src = 'a'", labels: []string{"src"}, err: `row 2: labels {src="a"} repeat an earlier row; each row must be one series`},
	{name: "syntax error", sql: "SELEKT 1", err: "SELEKT"},
}

// testShapes runs shapeCases against a database.
func testShapes(t *testing.T, d *testDatabase) {
	table := d.table(t, "src VARCHAR(10), n INTEGER", "('a', 1)", "('a', 2)", "('b', 3)", "(NULL, 4)")
	p := d.pool(t)
	for _, tt := range shapeCases {
		t.Run(tt.name, func(t *testing.T) {
			q := testQuery("shape", strings.ReplaceAll(tt.sql, "TABLE", table), tt.labels...)
			if tt.maxSeries > 0 {
				q.MaxSeries = tt.maxSeries
			}
			rows, err := p.Run(context.Background(), q)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.True(t, strings.HasPrefix(err.Error(), "query shape: "), err.Error())
				var qe *QueryError
				assert.True(t, errors.As(err, &qe))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, rows)
		})
	}
}

// testReadOnly runs writes as queries: each fails and the table is
// unchanged.
func testReadOnly(t *testing.T, d *testDatabase, writes []string) {
	table := d.table(t, "n INTEGER", "(1)")
	p := d.pool(t)
	for _, w := range writes {
		t.Run(w, func(t *testing.T) {
			_, err := p.Run(context.Background(), testQuery("write", strings.ReplaceAll(w, "TABLE", table)))
			require.Error(t, err)
			assert.Regexp(t, `(?i)read[- ]?only`, err.Error(), "the database refused the write")
			assert.Equal(t, 1, d.count(t, table), "the table is unchanged")
		})
	}
}

// testTimeout runs a slow query with a short timeout.
func testTimeout(t *testing.T, d *testDatabase, slow string) {
	p := d.pool(t)
	q := testQuery("slow", slow)
	q.Timeout = 200 * time.Millisecond
	_, err := p.Run(context.Background(), q)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrTimeout), err.Error())
	assert.Contains(t, err.Error(), "query slow: timed out after 200ms (timeout)")
	// The pool still works after the timeout.
	rows, err := p.Run(context.Background(), testQuery("after", "SELECT 1 AS v"))
	require.NoError(t, err)
	assert.Equal(t, []Row{{Labels: []string{}, Value: 1}}, rows)
}

func TestSQLite(t *testing.T) {
	t.Run("shapes", func(t *testing.T) { testShapes(t, sqliteDatabase(t)) })
	t.Run("read-only", func(t *testing.T) {
		testReadOnly(t, sqliteDatabase(t), []string{
			"INSERT INTO TABLE VALUES (2) RETURNING n",
			"DELETE FROM TABLE RETURNING n",
			"UPDATE TABLE SET n = 5 RETURNING n",
		})
	})
	t.Run("timeout", func(t *testing.T) {
		// A recursive CTE that counts far: SQLite has no sleep.
		testTimeout(t, sqliteDatabase(t), "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c")
	})
	t.Run("ten million rows", func(t *testing.T) {
		testTooManyRows(t, sqliteDatabase(t), "WITH RECURSIVE c(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM c WHERE g < 10000000) SELECT g, g AS v FROM c")
	})
	t.Run("missing file", func(t *testing.T) {
		p, err := Open([]Database{{Name: "main", Driver: DriverSQLite, DSN: t.TempDir() + "/missing.db"}}, 1)
		require.NoError(t, err)
		defer p.Close()
		_, err = p.Run(context.Background(), testQuery("x", "SELECT 1"))
		assert.ErrorContains(t, err, "query x: begin read-only transaction: unable to open database file")
	})
	t.Run("memory", func(t *testing.T) {
		p, err := Open([]Database{{Name: "main", Driver: DriverSQLite, DSN: ":memory:"}}, 1)
		require.NoError(t, err)
		defer p.Close()
		rows, err := p.Run(context.Background(), testQuery("x", "SELECT 42"))
		require.NoError(t, err)
		assert.Equal(t, []Row{{Labels: []string{}, Value: 42}}, rows)
		_, err = p.Run(context.Background(), testQuery("x", "CREATE TABLE t (n INTEGER)"))
		assert.ErrorContains(t, err, "readonly")
	})
}

func TestPostgres(t *testing.T) {
	d := serverDatabase(t, DriverPostgres, "ESM_TEST_POSTGRES_DSN", defaultPostgresDSN)
	t.Run("shapes", func(t *testing.T) { testShapes(t, d) })
	t.Run("numeric", func(t *testing.T) {
		rows, err := d.pool(t).Run(context.Background(), testQuery("x", "SELECT 12345678.125::numeric AS v"))
		require.NoError(t, err)
		assert.Equal(t, []Row{{Labels: []string{}, Value: 12345678.125}}, rows)
	})
	t.Run("read-only", func(t *testing.T) {
		testReadOnly(t, d, []string{
			"WITH w AS (INSERT INTO TABLE VALUES (2) RETURNING n) SELECT count(*) FROM w",
			"WITH w AS (UPDATE TABLE SET n = 5 RETURNING n) SELECT count(*) FROM w",
			"WITH w AS (DELETE FROM TABLE RETURNING n) SELECT count(*) FROM w",
		})
	})
	t.Run("timeout", func(t *testing.T) { testTimeout(t, d, "SELECT pg_sleep(5)") })
	t.Run("ten million rows", func(t *testing.T) {
		testTooManyRows(t, d, "SELECT g, g AS v FROM generate_series(1, 10000000) AS g")
	})
}

// testTooManyRows runs a query returning far more than max_series rows:
// it fails, and the pool still works.
func testTooManyRows(t *testing.T, d *testDatabase, sql string) {
	p := d.pool(t)
	_, err := p.Run(context.Background(), testQuery("huge", sql, "g"))
	assert.EqualError(t, err, "query huge: returned more than 100 rows (max_series); aggregate the query or raise max_series")
	rows, err := p.Run(context.Background(), testQuery("after", "SELECT 1 AS v"))
	require.NoError(t, err)
	assert.Len(t, rows, 1)
}

func TestMySQL(t *testing.T) {
	d := serverDatabase(t, DriverMySQL, "ESM_TEST_MYSQL_DSN", defaultMySQLDSN)
	t.Run("shapes", func(t *testing.T) { testShapes(t, d) })
	t.Run("decimal", func(t *testing.T) {
		rows, err := d.pool(t).Run(context.Background(), testQuery("x", "SELECT CAST(12345678.125 AS DECIMAL(20,3)) AS v"))
		require.NoError(t, err)
		assert.Equal(t, []Row{{Labels: []string{}, Value: 12345678.125}}, rows)
	})
	t.Run("read-only", func(t *testing.T) {
		testReadOnly(t, d, []string{
			"INSERT INTO TABLE VALUES (2)",
			"UPDATE TABLE SET n = 5",
			"DELETE FROM TABLE",
		})
	})
	t.Run("timeout", func(t *testing.T) { testTimeout(t, d, "SELECT SLEEP(5)") })
	t.Run("a million rows", func(t *testing.T) {
		testTooManyRows(t, d, "WITH RECURSIVE c(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM c WHERE g < 1000000) SELECT g, g AS v FROM c")
	})
}

func TestSeries(t *testing.T) {
	q := testQuery("orders", "", "country", "source")
	got := Series(q, []Row{{Labels: []string{"fr", `a"b\c`}, Value: 2}, {Labels: []string{"de", "x\ny"}, Value: 1.5}})
	assert.Equal(t, []string{
		`esm_query_value{query="orders",country="de",source="x\ny"} 1.5`,
		`esm_query_value{query="orders",country="fr",source="a\"b\\c"} 2`,
	}, got)
}

func TestNumeric(t *testing.T) {
	tests := []struct {
		in   any
		want float64
		err  string
	}{
		{in: int64(-3), want: -3},
		{in: 2.5, want: 2.5},
		{in: float32(0.5), want: 0.5},
		{in: true, want: 1},
		{in: []byte(" 1e3 "), want: 1000},
		{in: "NaN", err: `"NaN" is not a finite number`},
		{in: "Infinity", err: `"Infinity" is not a finite number`},
		{in: time.Time{}, err: "is not a number (time.Time)"},
		{in: strings.Repeat("9", 50) + "x", err: `"` + strings.Repeat("9", 40) + `..." is not a finite number`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T %.10v", tt.in, tt.in), func(t *testing.T) {
			got, err := numeric(tt.in)
			if tt.err != "" {
				assert.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPoolLimits(t *testing.T) {
	d := sqliteDatabase(t)
	d.MaxOpenConns = 3
	p, err := Open([]Database{d.Database}, 1)
	require.NoError(t, err)
	defer p.Close()
	assert.Equal(t, 3, p.dbs["main"].Stats().MaxOpenConnections)

	// Every slot taken: a query waits for one, within its context.
	p.sem <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = p.Run(ctx, testQuery("waits", "SELECT 1"))
	assert.EqualError(t, err, "query waits: wait for a free query slot: context deadline exceeded")
	<-p.sem
	rows, err := p.Run(context.Background(), testQuery("runs", "SELECT 1"))
	require.NoError(t, err)
	assert.Len(t, rows, 1)

	def, err := Open([]Database{{Name: "main", Driver: DriverSQLite, DSN: ":memory:"}}, 0)
	require.NoError(t, err)
	defer def.Close()
	assert.Equal(t, DefaultMaxOpenConns, def.dbs["main"].Stats().MaxOpenConnections)
	assert.Equal(t, DefaultMaxConcurrentQueries, cap(def.sem))

	_, err = Open([]Database{{Name: "x", Driver: "oracle"}}, 0)
	assert.EqualError(t, err, `open database x: unknown driver "oracle"; supported drivers: postgres, mysql, sqlite`)
	_, err = p.Run(context.Background(), &queryfile.Query{Name: "q", DB: "other"})
	assert.EqualError(t, err, `query q: unknown database "other"`)
	// A Query built without ParseFile gets the defaults of timeout and
	// max_series rather than none.
	rows, err = p.Run(context.Background(), &queryfile.Query{Name: "q", DB: "main", SQL: "SELECT 1"})
	require.NoError(t, err)
	assert.Len(t, rows, 1)
}

func TestSQLitePaths(t *testing.T) {
	tests := []struct{ name, dir, dsn string }{
		{"relative", "", "rel.db"},
		{"relative in a directory", "", "data/rel.db"},
		{"special characters", "a b?c#d%", "x.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			path := filepath.Join(tt.dir, tt.dsn)
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			admin, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath())
			require.NoError(t, err)
			_, err = admin.Exec("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (7)")
			require.NoError(t, err)
			admin.Close()
			p, err := Open([]Database{{Name: "main", Driver: DriverSQLite, DSN: path}}, 1)
			require.NoError(t, err)
			defer p.Close()
			rows, err := p.Run(context.Background(), testQuery("x", "SELECT n FROM t"))
			require.NoError(t, err)
			assert.Equal(t, []Row{{Labels: []string{}, Value: 7}}, rows)
		})
	}
}

func TestSQLiteLongLabel(t *testing.T) {
	p := sqliteDatabase(t).pool(t)
	// hex(zeroblob(513)) is 1026 characters.
	_, err := p.Run(context.Background(), testQuery("long", "SELECT hex(zeroblob(513)) AS l, 1 AS v", "l"))
	assert.EqualError(t, err, `query long: row 1: label column "l": value is longer than 1024 bytes`)
	rows, err := p.Run(context.Background(), testQuery("long", "SELECT hex(zeroblob(512)) AS l, 1 AS v", "l"))
	require.NoError(t, err)
	assert.Len(t, rows[0].Labels[0], 1024)
}
