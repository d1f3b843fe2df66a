package queries

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/queryfile"
)

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// recordingSink keeps what a scheduler publishes.
type recordingSink struct {
	mu      sync.Mutex
	results map[string]Result
	deleted []string
	events  chan Result
}

func newRecordingSink() *recordingSink {
	return &recordingSink{results: map[string]Result{}, events: make(chan Result, 100)}
}

func (s *recordingSink) Set(query string, r Result) {
	s.mu.Lock()
	s.results[query] = r
	s.mu.Unlock()
	s.events <- r
}

func (s *recordingSink) Delete(query string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.results, query)
	s.deleted = append(s.deleted, query)
}

func (s *recordingSink) get(query string) (Result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.results[query]
	return r, ok
}

// next waits for the next published result (the timeout is a safety net).
func (s *recordingSink) next(t *testing.T) Result {
	t.Helper()
	select {
	case r := <-s.events:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no result published")
		return Result{}
	}
}

// countingExecutor counts the runs it passes to a real Pool.
type countingExecutor struct {
	pool *Pool
	runs atomic.Int64
}

func (e *countingExecutor) Run(ctx context.Context, q *queryfile.Query) ([]Row, error) {
	e.runs.Add(1)
	return e.pool.Run(ctx, q)
}

// schedulerFixture is a scheduler on a real database.
type schedulerFixture struct {
	db    *testDatabase
	exec  *countingExecutor
	sink  *recordingSink
	clock *fakeClock
	store ResultStore
	s     *Scheduler
}

func newSchedulerFixture(t *testing.T, db *testDatabase, store ResultStore) *schedulerFixture {
	f := &schedulerFixture{db: db, exec: &countingExecutor{pool: db.pool(t)}, sink: newRecordingSink(), clock: newFakeClock(), store: store}
	f.s = NewScheduler(SchedulerOptions{Executor: f.exec, Sink: f.sink, Store: store, Clock: f.clock, Logger: slog.New(slog.DiscardHandler)})
	return f
}

// restart returns a new scheduler on the same database and store, as a
// restarted service has, with the clock at the same time.
func (f *schedulerFixture) restart(t *testing.T) *schedulerFixture {
	g := newSchedulerFixture(t, f.db, f.store)
	g.clock.now = f.clock.Now()
	return g
}

// runDue runs the due queries and waits for them; it returns how many ran.
func (f *schedulerFixture) runDue() int {
	n := f.s.RunDue(context.Background())
	f.s.Wait()
	return n
}

func TestSchedulerRunsWhenIntervalHasPassed(t *testing.T) {
	db := sqliteDatabase(t)
	table := db.table(t, "n INTEGER", "(1)", "(2)")
	f := newSchedulerFixture(t, db, nil)
	q := testQuery("rows", "SELECT count(*) FROM "+table)
	require.Empty(t, f.s.Set(context.Background(), []*queryfile.Query{q}))

	steps := []struct {
		advance time.Duration
		runs    int
	}{
		{0, 1},               // never ran: at once
		{4 * time.Minute, 0}, // 4m after the run
		{time.Minute, 1},     // 5m after it
		{time.Second, 0},
		{5 * time.Minute, 1},
	}
	total := 0
	for i, st := range steps {
		f.clock.Advance(st.advance)
		assert.Equal(t, st.runs, f.runDue(), "step %d", i)
		total += st.runs
	}
	assert.Equal(t, int64(total), f.exec.runs.Load())
	r, ok := f.sink.get("rows")
	require.True(t, ok)
	assert.Equal(t, []Row{{Labels: []string{}, Value: 2}}, r.Rows)
	assert.Equal(t, t0.Add(10*time.Minute+time.Second), r.Time)
	assert.False(t, r.Failed())
	assert.Equal(t, q.Fingerprint(), r.Fingerprint)
}

func TestSchedulerFailureKeepsLastGoodResult(t *testing.T) {
	db := sqliteDatabase(t)
	table := db.table(t, "n INTEGER", "(1)")
	f := newSchedulerFixture(t, db, nil)
	q := testQuery("daily", "SELECT count(*) FROM "+table)
	q.Interval = 24 * time.Hour
	f.s.Set(context.Background(), []*queryfile.Query{q})
	require.Equal(t, 1, f.runDue())
	good := f.sink.next(t)
	require.False(t, good.Failed())

	_, err := db.admin.Exec("DROP TABLE " + table)
	require.NoError(t, err)
	f.clock.Advance(24 * time.Hour)
	require.Equal(t, 1, f.runDue())
	bad := f.sink.next(t)
	assert.True(t, bad.Failed())
	assert.Contains(t, bad.Error, "query daily: SQL logic error: no such table: "+table)
	assert.Equal(t, good.Rows, bad.Rows, "the last good rows stay exported")
	assert.Equal(t, t0, bad.LastSuccess)
	assert.Equal(t, t0.Add(24*time.Hour), bad.Time)

	// A failed daily query is retried after RetryAfterFailure, not a day.
	f.clock.Advance(RetryAfterFailure - time.Second)
	assert.Equal(t, 0, f.runDue())
	f.clock.Advance(time.Second)
	assert.Equal(t, 1, f.runDue())
}

// testRestart runs a daily query, restarts the scheduler an hour later
// with a store opened anew on the same place (open), and checks that the
// stored result is served without running the query.
func testRestart(t *testing.T, db *testDatabase, open func() ResultStore) {
	table := db.table(t, "n INTEGER", "(1)", "(2)", "(3)")
	store := open()
	q := testQuery("daily", "SELECT count(*) FROM "+table)
	q.Interval = 24 * time.Hour

	first := newSchedulerFixture(t, db, store)
	require.Empty(t, first.s.Set(context.Background(), []*queryfile.Query{q}))
	require.Equal(t, 1, first.runDue())
	want := first.sink.next(t)
	require.False(t, want.Failed(), want.Error)

	first.clock.Advance(time.Hour)
	first.store = open()
	second := first.restart(t)
	require.Empty(t, second.s.Set(context.Background(), []*queryfile.Query{q}))
	got, ok := second.sink.get("daily")
	require.True(t, ok, "the stored result is published at once")
	assert.True(t, got.Loaded)
	assert.Equal(t, want.Rows, got.Rows)
	assert.True(t, want.Time.Equal(got.Time))
	assert.Equal(t, 0, second.runDue())
	assert.Equal(t, int64(0), second.exec.runs.Load(), "the database sees no second query")

	second.clock.Advance(23 * time.Hour)
	assert.Equal(t, 1, second.runDue(), "a day after the stored run")
	assert.Equal(t, int64(1), second.exec.runs.Load())
}

// dirStoreOpener returns an opener of a directory store in a new
// temporary directory.
func dirStoreOpener(t *testing.T) func() ResultStore {
	dir := filepath.Join(t.TempDir(), ".esm", "queries")
	return func() ResultStore { return NewDirStore(dir) }
}

func TestSchedulerRestartSQLite(t *testing.T) { testRestart(t, sqliteDatabase(t), dirStoreOpener(t)) }

func TestSchedulerRestartPostgres(t *testing.T) {
	testRestart(t, serverDatabase(t, DriverPostgres, "ESM_TEST_POSTGRES_DSN", defaultPostgresDSN), dirStoreOpener(t))
}

func TestSchedulerRestartMySQL(t *testing.T) {
	testRestart(t, serverDatabase(t, DriverMySQL, "ESM_TEST_MYSQL_DSN", defaultMySQLDSN), dirStoreOpener(t))
}

func TestSchedulerStoredResultNotUsed(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, path string)
		warning string
	}{
		{"corrupt", func(t *testing.T, path string) { require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o644)) },
			"stored result of query daily at DIR/daily.json: decode: invalid character 'n' looking for beginning of object key string; running the query again"},
		{"newer format", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte(`{"version": 2, "query": "daily", "time": "2026-01-02T03:00:00Z"}`), 0o644))
		}, "stored result of query daily at DIR/daily.json: format version 2, want 1; running the query again"},
		{"unreadable", func(t *testing.T, path string) {
			require.NoError(t, os.Remove(path))
			require.NoError(t, os.Mkdir(path, 0o755))
		},
			"stored result of query daily at DIR/daily.json: read DIR/daily.json: is a directory; running the query again"},
		{"other definition", func(t *testing.T, path string) {}, ""},
		{"from the future", func(t *testing.T, path string) {
			store := NewDirStore(filepath.Dir(path))
			r, ok, err := store.Load(context.Background(), "daily")
			require.NoError(t, err)
			require.True(t, ok)
			r.Time = r.Time.Add(48 * time.Hour)
			require.NoError(t, store.Save(context.Background(), r))
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := sqliteDatabase(t)
			table := db.table(t, "n INTEGER", "(1)")
			dir := t.TempDir()
			store := NewDirStore(dir)
			q := testQuery("daily", "SELECT count(*) FROM "+table)
			q.Interval = 24 * time.Hour
			q.NamePos.Filename, q.NamePos.Line, q.NamePos.Column = "queries/daily.yaml", 1, 7
			first := newSchedulerFixture(t, db, store)
			first.s.Set(context.Background(), []*queryfile.Query{q})
			require.Equal(t, 1, first.runDue())
			tt.corrupt(t, filepath.Join(dir, "daily.json"))

			second := first.restart(t)
			q2 := *q
			if tt.name == "other definition" {
				q2.SQL += " WHERE n > 0"
			}
			warnings := second.s.Set(context.Background(), []*queryfile.Query{&q2})
			if tt.warning != "" {
				require.Len(t, warnings, 1)
				assert.Equal(t, "queries/daily.yaml:1:7: warning: "+strings.ReplaceAll(tt.warning, "DIR", dir), warnings[0].Error())
			} else {
				assert.Empty(t, warnings)
			}
			_, published := second.sink.get("daily")
			assert.False(t, published)
			assert.Equal(t, 1, second.runDue(), "the query runs again")
			r, ok, err := store.Load(context.Background(), "daily")
			if tt.name != "unreadable" {
				require.NoError(t, err)
				require.True(t, ok)
				assert.Equal(t, q2.Fingerprint(), r.Fingerprint, "the new result replaced the old")
			}
		})
	}
}

func TestSchedulerSet(t *testing.T) {
	db := sqliteDatabase(t)
	table := db.table(t, "n INTEGER", "(1)")
	f := newSchedulerFixture(t, db, nil)
	keep := testQuery("keep", "SELECT count(*) FROM "+table)
	change := testQuery("change", "SELECT count(*) FROM "+table)
	remove := testQuery("remove", "SELECT 1")
	f.s.Set(context.Background(), []*queryfile.Query{keep, change, remove})
	require.Equal(t, 3, f.runDue())

	f.clock.Advance(time.Minute)
	keep2 := *keep
	keep2.Description = "the description changed"
	keep2.Interval = 10 * time.Minute // applies from now on
	change2 := *change
	change2.SQL = "SELECT 2"
	added := testQuery("added", "SELECT 3")
	f.s.Set(context.Background(), []*queryfile.Query{&keep2, &change2, added})

	assert.ElementsMatch(t, []string{"change", "remove"}, f.sink.deleted)
	assert.Equal(t, 2, f.runDue(), "the changed and the added query run; the unchanged one waits")
	results := f.s.Results()
	assert.Len(t, results, 3)
	assert.Equal(t, t0, results["keep"].Time)
	assert.Equal(t, []Row{{Labels: []string{}, Value: 2}}, results["change"].Rows)
	assert.Equal(t, t0.Add(time.Minute), results["added"].Time)

	f.clock.Advance(4 * time.Minute) // t0+5m: the old interval has passed
	assert.Equal(t, 0, f.runDue(), "keep waits for its new interval")
	f.clock.Advance(5 * time.Minute) // t0+10m: all three are due
	assert.Equal(t, 3, f.runDue())
	assert.Equal(t, t0.Add(10*time.Minute), f.s.Results()["keep"].Time)
}

func TestSchedulerRun(t *testing.T) {
	db := sqliteDatabase(t)
	f := newSchedulerFixture(t, db, NewDirStore(t.TempDir()))
	f.s.Set(context.Background(), []*queryfile.Query{testQuery("often", "SELECT 1")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.s.Run(ctx); close(done) }()

	first := f.sink.next(t)
	assert.Equal(t, t0, first.Time)
	f.clock.Advance(queryfile.DefaultInterval)
	second := f.sink.next(t)
	assert.Equal(t, t0.Add(queryfile.DefaultInterval), second.Time)
	cancel()
	<-done
	assert.Equal(t, int64(2), f.exec.runs.Load())
}

// blockingStore holds each Load until released.
type blockingStore struct {
	ResultStore
	loading chan string
	release chan struct{}
}

func (s *blockingStore) Load(ctx context.Context, query string) (Result, bool, error) {
	s.loading <- query
	<-s.release
	return s.ResultStore.Load(ctx, query)
}

// A query added while the scheduler runs must not run before its stored
// result is read: a reload would otherwise re-run a daily query.
func TestSchedulerSetLoadsBeforeScheduling(t *testing.T) {
	db := sqliteDatabase(t)
	dir := NewDirStore(t.TempDir())
	q := testQuery("daily", "SELECT 1")
	q.Interval = 24 * time.Hour
	require.NoError(t, dir.Save(context.Background(), Result{Query: "daily", Fingerprint: q.Fingerprint(), Rows: []Row{{Labels: []string{}, Value: 1}}, Time: t0}))
	store := &blockingStore{ResultStore: dir, loading: make(chan string), release: make(chan struct{})}
	f := newSchedulerFixture(t, db, store)
	f.clock.Advance(time.Hour)

	done := make(chan struct{})
	go func() { f.s.Set(context.Background(), []*queryfile.Query{q}); close(done) }()
	assert.Equal(t, "daily", <-store.loading)
	assert.Equal(t, 0, f.runDue(), "nothing runs while the stored result is being read")
	close(store.release)
	<-done
	r, ok := f.sink.get("daily")
	require.True(t, ok)
	assert.True(t, r.Loaded)
	assert.Equal(t, 0, f.runDue())
	assert.Equal(t, int64(0), f.exec.runs.Load())
}

// blockingExecutor holds each run until released.
type blockingExecutor struct {
	Executor
	started chan string
	release chan struct{}
}

func (e *blockingExecutor) Run(ctx context.Context, q *queryfile.Query) ([]Row, error) {
	e.started <- q.Name
	<-e.release
	return e.Executor.Run(ctx, q)
}

// A reload while a query runs: the run finishes with the definition it
// started with and its result is kept (go test -race checks the access).
func TestSchedulerSetWhileRunning(t *testing.T) {
	db := sqliteDatabase(t)
	exec := &blockingExecutor{Executor: db.pool(t), started: make(chan string), release: make(chan struct{})}
	sink := newRecordingSink()
	clock := newFakeClock()
	s := NewScheduler(SchedulerOptions{Executor: exec, Sink: sink, Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	q := testQuery("q", "SELECT 1")
	s.Set(context.Background(), []*queryfile.Query{q})
	require.Equal(t, 1, s.RunDue(context.Background()))
	assert.Equal(t, "q", <-exec.started)

	q2 := *q
	q2.Interval = time.Hour
	s.Set(context.Background(), []*queryfile.Query{&q2})
	assert.Equal(t, 0, s.RunDue(context.Background()), "already running")
	close(exec.release)
	s.Wait()
	r := sink.next(t)
	assert.Equal(t, []Row{{Labels: []string{}, Value: 1}}, r.Rows)
	next, ok := s.NextDue()
	require.True(t, ok)
	assert.Equal(t, t0.Add(time.Hour), next, "the new interval applies")
}

// Reloads and runs at once, without coordination: go test -race checks
// that the scheduler's state is accessed under its lock.
func TestSchedulerSetAndRunConcurrently(t *testing.T) {
	db := sqliteDatabase(t)
	f := newSchedulerFixture(t, db, NewDirStore(t.TempDir()))
	q := testQuery("q", "SELECT 1")
	q.Interval = time.Second
	f.s.Set(context.Background(), []*queryfile.Query{q})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 100; i++ {
			q2 := *q
			q2.Interval = time.Duration(1+i%2) * time.Second
			q2.Timeout = time.Duration(10+i) * time.Second
			f.s.Set(context.Background(), []*queryfile.Query{&q2})
		}
	}()
	for i := 0; i < 100; i++ {
		f.clock.Advance(2 * time.Second)
		f.s.RunDue(context.Background())
	}
	wg.Wait()
	f.s.Wait()
	assert.Positive(t, f.exec.runs.Load())
}
