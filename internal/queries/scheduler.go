package queries

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/queryfile"
)

// Executor runs one query and returns its rows; *Pool is the production
// one.
type Executor interface {
	Run(ctx context.Context, q *queryfile.Query) ([]Row, error)
}

// Sink receives results: a later wiring exports them as Prometheus and
// DogStatsD gauges. The scheduler calls it with its lock held: a Sink
// must return quickly and must not call the scheduler.
type Sink interface {
	// Set publishes the latest result of a query. A failed result carries
	// the rows of the last successful run, to keep exporting.
	Set(query string, r Result)
	// Delete withdraws a query that was removed or changed.
	Delete(query string)
}

// Clock is the scheduler's time source; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// realClock is the system clock.
type realClock struct{}

// Now returns time.Now().
func (realClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RetryAfterFailure is the longest a failed query waits before it runs
// again: a daily query that failed is retried after 5 minutes rather than
// a day; a query whose interval is shorter waits its interval.
const RetryAfterFailure = 5 * time.Minute

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	// Executor runs the queries (required).
	Executor Executor
	// Sink receives the results (required).
	Sink Sink
	// Store keeps results across restarts; nil keeps them in memory only.
	Store ResultStore
	// Clock defaults to the real clock.
	Clock Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Scheduler runs each query when its interval has passed since its last
// run, hands every result to the sink and saves it to the store.
type Scheduler struct {
	exec   Executor
	sink   Sink
	store  ResultStore
	clock  Clock
	log    *slog.Logger
	wake   chan struct{}
	wg     sync.WaitGroup
	setMu  sync.Mutex // serialises Set
	mu     sync.Mutex // guards states
	states map[string]*queryState
}

// queryState is what the scheduler knows of one query.
type queryState struct {
	q       *queryfile.Query
	last    Result // zero Time: never ran
	running bool
}

// NewScheduler returns a scheduler with no queries; call Set.
func NewScheduler(opts SchedulerOptions) *Scheduler {
	s := &Scheduler{
		exec: opts.Executor, sink: opts.Sink, store: opts.Store, clock: opts.Clock, log: opts.Logger,
		wake: make(chan struct{}, 1), states: map[string]*queryState{},
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Set replaces the query set, at start and on reload. A query whose
// database, SQL and labels are unchanged keeps its last result and its
// schedule (under its new interval); a new or
// changed query loads its stored result, which the sink gets at once,
// and runs when its interval has passed since that stored run (at once
// without one). A removed or changed query is withdrawn from the sink.
// A stored result that cannot be read is returned as a warning and the
// query runs again; nothing else is affected.
func (s *Scheduler) Set(ctx context.Context, qs []*queryfile.Query) diag.List {
	s.setMu.Lock()
	defer s.setMu.Unlock()

	// Read the stored results of the new and changed queries first, so
	// that none of them can run before its stored result is known.
	s.mu.Lock()
	var fresh []*queryfile.Query
	for _, q := range qs {
		if st, ok := s.states[q.Name]; !ok || !sameQuery(st.q, q) {
			fresh = append(fresh, q)
		}
	}
	s.mu.Unlock()
	var warnings diag.List
	stored := map[string]Result{}
	for _, q := range fresh {
		r, ok, err := s.loadStored(ctx, q)
		if err != nil {
			warnings.Add(diag.Warning, q.NamePos, diag.Position{}, "%v; running the query again", err)
			continue
		}
		if ok {
			stored[q.Name] = r
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	next := map[string]*queryState{}
	for _, q := range qs {
		if st, ok := s.states[q.Name]; ok && sameQuery(st.q, q) {
			st.q = q // the interval, timeout or positions may be new
			next[q.Name] = st
			continue
		}
		next[q.Name] = &queryState{q: q, last: stored[q.Name]}
	}
	for name, st := range s.states {
		if next[name] != st {
			s.sink.Delete(name)
		}
	}
	for name, st := range next {
		if r, ok := stored[name]; ok && s.states[name] != st {
			s.sink.Set(name, r)
		}
	}
	s.states = next
	s.poke()
	return warnings
}

// loadStored returns the stored result of q when it is q's: a result of
// another definition of the same name is ignored.
func (s *Scheduler) loadStored(ctx context.Context, q *queryfile.Query) (Result, bool, error) {
	if s.store == nil {
		return Result{}, false, nil
	}
	r, ok, err := s.store.Load(ctx, q.Name)
	if err != nil || !ok {
		return Result{}, false, err
	}
	if r.Fingerprint != q.Fingerprint() {
		s.log.Info("stored result is of a different query definition; running the query again", "query", q.Name)
		return Result{}, false, nil
	}
	if now := s.clock.Now(); r.Time.After(now) {
		// A clock that went back must not postpone the query by as much.
		s.log.Warn("stored result is from the future; running the query again", "query", q.Name, "time", r.Time, "now", now)
		return Result{}, false, nil
	}
	r.Loaded = true
	return r, true, nil
}

// sameQuery reports whether two definitions of a query compute the same
// result: the same database, SQL and labels. A new interval, timeout or
// max_series applies from the next run on.
func sameQuery(a, b *queryfile.Query) bool { return a.Fingerprint() == b.Fingerprint() }

// due returns when st runs next.
func due(st *queryState) time.Time {
	if st.last.Time.IsZero() {
		return time.Time{}
	}
	wait := st.q.Interval
	if st.last.Failed() && wait > RetryAfterFailure {
		wait = RetryAfterFailure
	}
	return st.last.Time.Add(wait)
}

// RunDue starts every query that is due and not already running, each in
// its own goroutine, and returns how many it started. Wait waits for them.
func (s *Scheduler) RunDue(ctx context.Context) int {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	started := 0
	for _, st := range s.states {
		if st.running || due(st).After(now) {
			continue
		}
		st.running = true
		started++
		s.wg.Add(1)
		go s.runOne(ctx, st, st.q)
	}
	return started
}

// Wait waits until every started run has finished.
func (s *Scheduler) Wait() { s.wg.Wait() }

// runOne runs q, the query of st when it started, once and publishes
// the result.
func (s *Scheduler) runOne(ctx context.Context, st *queryState, q *queryfile.Query) {
	defer s.wg.Done()
	defer s.poke()
	start := s.clock.Now()
	rows, err := s.exec.Run(ctx, q)
	r := Result{Query: q.Name, Fingerprint: q.Fingerprint(), Labels: q.Labels, Time: start, Duration: s.clock.Now().Sub(start)}

	s.mu.Lock()
	st.running = false
	if s.states[q.Name] != st {
		s.mu.Unlock()
		return // removed or replaced while it ran
	}
	if err != nil {
		if ctx.Err() != nil {
			s.mu.Unlock()
			return // shutting down: not a failure of the query
		}
		r.Error = err.Error()
		r.Rows, r.LastSuccess = st.last.Rows, st.last.LastSuccess
		s.log.Warn("query failed", "query", q.Name, "error", err)
	} else {
		r.Rows, r.LastSuccess = rows, start
		if r.Rows == nil {
			r.Rows = []Row{}
		}
	}
	st.last = r
	s.sink.Set(q.Name, r)
	s.mu.Unlock()

	if s.store != nil {
		if err := s.store.Save(ctx, r); err != nil {
			s.log.Warn("could not save the query's result; a restart will run it again", "query", q.Name, "error", err)
		}
	}
}

// NextDue returns when the next query not already running is due, and
// false when there is none.
func (s *Scheduler) NextDue() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	found := false
	for _, st := range s.states {
		if st.running {
			continue
		}
		if d := due(st); !found || d.Before(next) {
			next, found = d, true
		}
	}
	return next, found
}

// poke wakes Run to recompute its next wake-up.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run runs queries on their schedule until ctx is done, then waits for
// the runs in flight (each bounded by its query's timeout).
func (s *Scheduler) Run(ctx context.Context) {
	defer s.Wait()
	for {
		s.RunDue(ctx)
		var timer <-chan time.Time
		if next, ok := s.NextDue(); ok {
			timer = s.clock.After(max(next.Sub(s.clock.Now()), 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-timer:
		case <-s.wake:
		}
	}
}

// Results returns the latest result of every query that has one.
func (s *Scheduler) Results() map[string]Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Result{}
	for name, st := range s.states {
		if !st.last.Time.IsZero() {
			out[name] = st.last
		}
	}
	return out
}
