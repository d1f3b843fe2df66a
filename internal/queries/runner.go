package queries

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // registers "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"

	"github.com/esm-dev/esm/internal/queryfile"
)

// Drivers esm supports, as named in esm.yaml.
const (
	DriverPostgres = "postgres"
	DriverMySQL    = "mysql"
	DriverSQLite   = "sqlite"
)

// Drivers lists the supported drivers.
var Drivers = []string{DriverPostgres, DriverMySQL, DriverSQLite}

// Defaults of the runner's limits.
const (
	DefaultMaxConcurrentQueries = 4
	DefaultMaxOpenConns         = 2
	// MaxLabelValueLen bounds one label value, in bytes.
	MaxLabelValueLen = 1024
)

// Database is a database queries run against.
type Database struct {
	// Name is the name queries use in db:.
	Name string
	// Driver is postgres, mysql or sqlite.
	Driver string
	// DSN is the data source name: a URL or key=value string for
	// PostgreSQL, go-sql-driver/mysql's DSN for MySQL and MariaDB, a file
	// path or ":memory:" for SQLite.
	DSN string
	// MaxOpenConns bounds the database's connection pool (default 2).
	MaxOpenConns int
}

// Row is one series of a result: the values of the label columns, in
// the query's label order, and the value.
type Row struct {
	// Labels are the label columns' values, as text.
	Labels []string `json:"labels"`
	// Value is the value column's value.
	Value float64 `json:"value"`
}

// Pool runs queries against their databases: one small connection pool
// per database, at most MaxConcurrentQueries queries at once overall.
type Pool struct {
	dbs map[string]*sql.DB
	sem chan struct{}
}

// Open opens a pool per database. No connection is made until a query
// runs. maxConcurrent <= 0 means DefaultMaxConcurrentQueries.
func Open(dbs []Database, maxConcurrent int) (*Pool, error) {
	if maxConcurrent <= 0 {
		maxConcurrent = DefaultMaxConcurrentQueries
	}
	p := &Pool{dbs: map[string]*sql.DB{}, sem: make(chan struct{}, maxConcurrent)}
	for _, d := range dbs {
		db, err := openDB(d)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("open database %s: %w", d.Name, err)
		}
		p.dbs[d.Name] = db
	}
	return p, nil
}

// openDB opens one database/sql pool. PostgreSQL and MySQL honour the
// read-only transaction every query runs in; modernc.org/sqlite accepts
// the option but only issues BEGIN, so a SQLite file is opened read-only
// (mode=ro: writes fail with SQLITE_READONLY, and a missing file is an
// error rather than a new empty database), and ":memory:" with the
// query_only pragma.
func openDB(d Database) (*sql.DB, error) {
	var driver, dsn string
	switch d.Driver {
	case DriverPostgres:
		driver, dsn = "pgx", d.DSN
	case DriverMySQL:
		driver, dsn = "mysql", d.DSN
	case DriverSQLite:
		driver, dsn = "sqlite", SQLiteReadOnlyDSN(d.DSN)
	default:
		return nil, fmt.Errorf("unknown driver %q; supported drivers: %s", d.Driver, strings.Join(Drivers, ", "))
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	n := d.MaxOpenConns
	if n <= 0 {
		n = DefaultMaxOpenConns
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// SQLiteReadOnlyDSN returns the modernc.org/sqlite data source name that
// opens path read-only.
func SQLiteReadOnlyDSN(path string) string {
	if path == ":memory:" {
		return ":memory:?_pragma=query_only(1)"
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&_pragma=busy_timeout(5000)"
}

// Close closes every database.
func (p *Pool) Close() error {
	var errs []error
	for _, db := range p.dbs {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}

// ErrTimeout is wrapped by the error of a query that ran out of time.
var ErrTimeout = errors.New("timed out")

// QueryError is a query's failure: the database's error, a timeout, or a
// result that does not fit the query's declaration.
type QueryError struct {
	// Query is the query's name.
	Query string
	// Err is what went wrong.
	Err error
}

// Error renders "query NAME: what went wrong".
func (e *QueryError) Error() string { return fmt.Sprintf("query %s: %v", e.Query, e.Err) }

// Unwrap returns the cause.
func (e *QueryError) Unwrap() error { return e.Err }

// Run executes q in a read-only transaction under its timeout and
// returns its rows, or a *QueryError.
func (p *Pool) Run(ctx context.Context, q *queryfile.Query) ([]Row, error) {
	rows, err := p.run(ctx, q)
	if err != nil {
		return nil, &QueryError{Query: q.Name, Err: err}
	}
	return rows, nil
}

func (p *Pool) run(ctx context.Context, q *queryfile.Query) ([]Row, error) {
	db, ok := p.dbs[q.DB]
	if !ok {
		return nil, fmt.Errorf("unknown database %q", q.DB)
	}
	select {
	case p.sem <- struct{}{}:
		defer func() { <-p.sem }()
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a free query slot: %w", ctx.Err())
	}
	timeout := q.Timeout
	if timeout <= 0 {
		timeout = queryfile.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rows, err := p.query(ctx, db, q)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("%w after %s (timeout): %v", ErrTimeout, timeout, err)
	}
	return rows, err
}

func (p *Pool) query(ctx context.Context, db *sql.DB, q *queryfile.Query) ([]Row, error) {
	// Cancelling stops a result that does not fit (more than max_series
	// rows) at once: closing the rows alone would read the rest of them.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("begin read-only transaction: %w", err)
	}
	defer tx.Rollback() // nothing to commit: the transaction is read-only
	rs, err := tx.QueryContext(ctx, q.SQL)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out, err := scanRows(rs, q)
	if err != nil {
		cancel()
		return nil, err
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// scanRows reads the rows of q's result: the label columns by name, and
// exactly one more column, the value.
func scanRows(rs *sql.Rows, q *queryfile.Query) ([]Row, error) {
	cols, err := rs.Columns()
	if err != nil {
		return nil, err
	}
	labelAt, valueAt, err := columnLayout(cols, q.Labels)
	if err != nil {
		return nil, err
	}
	maxSeries := q.MaxSeries
	if maxSeries <= 0 {
		maxSeries = queryfile.DefaultMaxSeries
	}
	var out []Row
	seen := map[string]bool{}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rs.Next() {
		if len(out) == maxSeries {
			return nil, fmt.Errorf("returned more than %d rows (max_series); aggregate the query or raise max_series", maxSeries)
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		n := len(out) + 1
		v, err := numeric(vals[valueAt])
		if err != nil {
			return nil, fmt.Errorf("row %d: value column %q: %w", n, cols[valueAt], err)
		}
		row := Row{Value: v, Labels: make([]string, len(labelAt))}
		for i, at := range labelAt {
			s, err := labelValue(vals[at])
			if err != nil {
				return nil, fmt.Errorf("row %d: label column %q: %w", n, cols[at], err)
			}
			row.Labels[i] = s
		}
		key := strings.Join(row.Labels, "\xff")
		if seen[key] {
			return nil, fmt.Errorf("row %d: labels %s repeat an earlier row; each row must be one series", n, formatLabels(q.Labels, row.Labels))
		}
		seen[key] = true
		out = append(out, row)
	}
	return out, nil
}

// columnLayout finds the label columns and the value column.
func columnLayout(cols, labels []string) (labelAt []int, valueAt int, err error) {
	index := map[string]int{}
	for i, c := range cols {
		if _, dup := index[c]; dup {
			return nil, 0, fmt.Errorf("the result has two columns named %q", c)
		}
		index[c] = i
	}
	isLabel := map[int]bool{}
	for _, l := range labels {
		i, ok := index[l]
		if !ok {
			return nil, 0, fmt.Errorf("label column %q is not in the result (columns: %s)", l, strings.Join(cols, ", "))
		}
		labelAt = append(labelAt, i)
		isLabel[i] = true
	}
	var values []string
	valueAt = -1
	for i, c := range cols {
		if !isLabel[i] {
			values = append(values, c)
			valueAt = i
		}
	}
	if len(values) != 1 {
		return nil, 0, fmt.Errorf("the result must have exactly one column besides the labels, the value; it has %d (%s)", len(values), strings.Join(values, ", "))
	}
	return labelAt, valueAt, nil
}

// numeric converts a value column's value: integers, floats, and
// decimals as text (PostgreSQL numeric, MySQL DECIMAL). NULL, text that
// is not a number, and NaN or infinities are errors.
func numeric(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case nil:
		return 0, errors.New("is NULL; use COALESCE(value, 0) to export a value for it")
	case int64:
		f = float64(x)
	case float64:
		f = x
	case float32:
		f = float64(x)
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case []byte:
		return parseNumber(string(x))
	case string:
		return parseNumber(x)
	default:
		return 0, fmt.Errorf("is not a number (%T)", v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%v is not a finite number", f)
	}
	return f, nil
}

func parseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return 0, fmt.Errorf("%q is not a finite number", s)
	}
	return f, nil
}

// labelValue converts a label column's value to text; NULL is the empty
// value, as Prometheus treats a missing label.
func labelValue(v any) (string, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return "", nil
	case []byte:
		s = string(x)
	case string:
		s = x
	case time.Time:
		s = x.UTC().Format(time.RFC3339Nano)
	default:
		s = fmt.Sprint(x)
	}
	if len(s) > MaxLabelValueLen {
		return "", fmt.Errorf("value is longer than %d bytes", MaxLabelValueLen)
	}
	return s, nil
}

// labelEscaper escapes a label value as Prometheus' text format does.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// formatLabels renders {name="value",...} as in Prometheus' text format.
func formatLabels(names, values []string) string {
	parts := make([]string, len(names))
	for i := range names {
		parts[i] = names[i] + `="` + labelEscaper.Replace(values[i]) + `"`
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Series renders a result's rows as the Prometheus series they export,
// esm_query_value{query="NAME",label="value"} VALUE, sorted.
func Series(q *queryfile.Query, rows []Row) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		names := append([]string{"query"}, q.Labels...)
		values := append([]string{q.Name}, r.Labels...)
		out = append(out, "esm_query_value"+formatLabels(names, values)+" "+strconv.FormatFloat(r.Value, 'g', -1, 64))
	}
	sort.Strings(out)
	return out
}
