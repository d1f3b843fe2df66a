package queries

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/queryfile"
	"github.com/esm-dev/esm/internal/testenv"
)

// Test databases: real servers where the environment has them.
const (
	defaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultMySQLDSN    = "root@tcp(127.0.0.1:3306)/test"
)

// testDatabase is a database a test creates its own table in.
type testDatabase struct {
	Database
	admin *sql.DB // a writable connection, for fixtures
}

// serverDatabase connects to the server named by env (default dsn), or
// skips the test when it is unreachable, except under CI=true.
func serverDatabase(t *testing.T, driver, env, dsn string) *testDatabase {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		dsn = v
	}
	name := map[string]string{DriverPostgres: "pgx", DriverMySQL: "mysql"}[driver]
	admin, err := sql.Open(name, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		testenv.Missing(t, "%s unreachable (set %s to run this test): %v", driver, env, err)
	}
	return &testDatabase{Database: Database{Name: "main", Driver: driver, DSN: dsn}, admin: admin}
}

// sqliteDatabase creates a SQLite file for a test.
func sqliteDatabase(t *testing.T) *testDatabase {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	admin, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	require.NoError(t, admin.Ping(), "create the database file")
	return &testDatabase{Database: Database{Name: "main", Driver: DriverSQLite, DSN: path}, admin: admin}
}

// table creates a uniquely named table with the given column definitions
// and rows, dropped when the test ends, and returns its name.
func (d *testDatabase) table(t *testing.T, columns string, inserts ...string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "esm_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	_, err := d.admin.ExecContext(ctx, "CREATE TABLE "+name+" ("+columns+")")
	require.NoError(t, err)
	t.Cleanup(func() { d.admin.ExecContext(context.Background(), "DROP TABLE "+name) })
	for _, values := range inserts {
		_, err := d.admin.ExecContext(ctx, "INSERT INTO "+name+" VALUES "+values)
		require.NoError(t, err)
	}
	return name
}

// count returns the number of rows of a table.
func (d *testDatabase) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, d.admin.QueryRowContext(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// pool opens a Pool on the database.
func (d *testDatabase) pool(t *testing.T) *Pool {
	t.Helper()
	p, err := Open([]Database{d.Database}, 2)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// testQuery returns a query on the database "main" with the defaults.
func testQuery(name, sql string, labels ...string) *queryfile.Query {
	return &queryfile.Query{Name: name, DB: "main", SQL: sql, Labels: labels, Interval: queryfile.DefaultInterval, IntervalText: "PT5M", Timeout: queryfile.DefaultTimeout, MaxSeries: queryfile.DefaultMaxSeries}
}
