// Package localstore is esm's embedded default monitor store: a JSON state
// file per environment, normally .esm/state/<env>.json, so that "esm plan"
// and "esm apply" run on a fresh machine without a Datadog account.
//
// The store behaves like a monitor store: IDs increase and are never
// reused (the next one is kept in the file), List returns the monitors
// carrying a tag (ignoring case), Update of an unknown ID is an error and
// Delete of an unknown ID succeeds.
//
// The file is pretty-printed, sorted by ID and versioned, so that it
// diffs well in Git:
//
//	{
//	  "version": 1,
//	  "next_id": 3,
//	  "monitors": [
//	    {"id": 1, "name": "Traffic Anomaly with AddToCartEvent", "type": "query alert", ...},
//	    {"id": 2, ...}
//	  ]
//	}
//
// Every write replaces the file atomically (a temporary file in the same
// directory, synced, then renamed), under an advisory lock on the
// directory where the platform has one, so that two esm processes do not
// lose each other's changes. A run that plans and applies holds the same
// lock from its List to its last write (Lock, monitor.Locker), so that
// concurrent runs take turns instead of each creating the monitors the
// other is creating. A file that cannot be read or parsed is an
// error naming the file and is never overwritten. A Store is safe for
// concurrent use; concurrent writes are committed together in one file
// write.
package localstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"github.com/esm-dev/esm/internal/monitor"
)

// ApplyConcurrency is the monitor.ApplyOptions.Concurrency that suits a
// Store. Concurrent writes wait for one another and are committed in one
// file write (and sync), so the more changes run at once, the fewer times
// the whole file is rewritten: with 2,000 creates, 64 at once takes about
// a second where 8 takes most of a minute on a disk that syncs slowly.
const ApplyConcurrency = 64

// ApplyConcurrency tells monitor.Apply how many changes to run at once.
func (s *Store) ApplyConcurrency() int { return ApplyConcurrency }

// ErrNotFound is returned, wrapped, by Update when no monitor has the ID.
var ErrNotFound = errors.New("no such monitor")

// Store is a monitor store kept in one JSON state file. It implements
// monitor.Store.
type Store struct {
	path string

	// mu guards st, info and queue.
	mu sync.Mutex
	st *state
	// info describes the file st was read from or last written to; nil
	// when there was no file.
	info fs.FileInfo
	// queue holds the writes waiting for the next commit.
	queue []*op

	// commitMu is held by the goroutine committing a batch of writes.
	commitMu sync.Mutex

	// turn holds a token while a Lock of this Store is held, so that the
	// runs sharing the Store (the bot's, on several repositories) take
	// turns too.
	turn chan struct{}
	// locked is set, under commitMu, while Lock holds the directory lock:
	// commits then do not take it again.
	locked bool
}

var (
	_ monitor.Store  = (*Store)(nil)
	_ monitor.Locker = (*Store)(nil)
)

// op is one write waiting to be committed: fn changes the state in place,
// or returns an error and leaves it alone.
type op struct {
	fn   func(*state) error
	done chan error
}

// Open returns the store kept in the file at path, reading it if it
// exists. A missing file is an empty store; the file and its directory
// are created by the first write.
func Open(path string) (*Store, error) {
	s := &Store{path: path, turn: make(chan struct{}, 1)}
	st, info, err := load(path)
	if err != nil {
		return nil, err
	}
	s.st, s.info = st, info
	return s, nil
}

// Path returns the path of the state file.
func (s *Store) Path() string { return s.path }

// List returns the monitors that carry tag, compared ignoring case, or
// every monitor when tag is "", sorted by ID. It rereads the file when another process has replaced it.
func (s *Store) List(ctx context.Context, tag string) ([]monitor.Monitor, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list monitors: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(); err != nil {
		return nil, fmt.Errorf("list monitors: %w", err)
	}
	var out []monitor.Monitor
	for i := range s.st.Monitors {
		m := &s.st.Monitors[i]
		if tag == "" || monitor.HasTag(m.Tags, tag) {
			out = append(out, cloneMonitor(*m))
		}
	}
	return out, nil
}

// Create stores a copy of m under a new ID and returns the ID; m.ID is
// ignored.
func (s *Store) Create(ctx context.Context, m *monitor.Monitor) (int64, error) {
	if m.Name == "" {
		return 0, errors.New("create monitor: the name is empty")
	}
	c := cloneMonitor(*m)
	var id int64
	err := s.write(ctx, func(st *state) error {
		id = st.NextID
		st.NextID++
		c.ID = id
		st.Monitors = append(st.Monitors, c) // IDs increase: the list stays sorted
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("create monitor %q: %w", m.Name, err)
	}
	return id, nil
}

// Update replaces the monitor with the given ID by a copy of m. It is an
// error wrapping ErrNotFound when there is no such monitor.
func (s *Store) Update(ctx context.Context, id int64, m *monitor.Monitor) error {
	c := cloneMonitor(*m)
	c.ID = id
	err := s.write(ctx, func(st *state) error {
		i, ok := st.find(id)
		if !ok {
			return fmt.Errorf("%w in %s", ErrNotFound, s.path)
		}
		st.Monitors[i] = c
		return nil
	})
	if err != nil {
		return fmt.Errorf("update monitor %d: %w", id, err)
	}
	return nil
}

// Delete removes the monitor with the given ID. Deleting a monitor that
// does not exist succeeds, as it does in Datadog after a 404.
func (s *Store) Delete(ctx context.Context, id int64) error {
	err := s.write(ctx, func(st *state) error {
		if i, ok := st.find(id); ok {
			st.Monitors = slices.Delete(st.Monitors, i, i+1)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete monitor %d: %w", id, err)
	}
	return nil
}

// Lock takes the exclusive advisory lock of the state directory (the one
// every write takes), creating the directory if needed, and holds it until
// unlock is called: another esm, or another Store on the same file, waits
// in its Lock and its writes meanwhile, and this Store's writes do not
// wait. It waits until the lock is free or ctx is done; a lock that is
// free is taken even with a done ctx, so that Lock with a cancelled
// context tries once. unlock may be called more than once.
func (s *Store) Lock(ctx context.Context) (unlock func(), err error) {
	select {
	case s.turn <- struct{}{}: // free: taken even when ctx is done
	default:
		select {
		case s.turn <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("lock state directory %s: another run holds it: %w", filepath.Dir(s.path), ctx.Err())
		}
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		<-s.turn
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	unlockDir, err := lockDir(ctx, lockDirOf(s.path))
	if err != nil {
		<-s.turn
		return nil, err
	}
	s.commitMu.Lock()
	s.locked = true
	s.commitMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.commitMu.Lock()
			s.locked = false
			s.commitMu.Unlock()
			unlockDir()
			<-s.turn
		})
	}, nil
}

// write queues fn and waits until it is committed. The goroutine that
// gets commitMu commits every queued write in one file write, so that
// concurrent writers do not rewrite the whole file once each.
func (s *Store) write(ctx context.Context, fn func(*state) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{fn: fn, done: make(chan error, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, o)
	s.mu.Unlock()

	s.commitMu.Lock()
	s.mu.Lock()
	batch := s.queue
	s.queue = nil
	s.mu.Unlock()
	if len(batch) > 0 {
		s.commit(ctx, batch)
	}
	s.commitMu.Unlock()
	// o was in this batch or in one committed before commitMu was ours.
	return <-o.done
}

// commit applies batch to a copy of the state, under the directory lock
// (taken here unless Lock holds it) and after rereading the file if
// another process replaced it, and writes the result. s.commitMu must be
// held. Each op learns its own outcome; when the file cannot be
// written, every op that changed the state fails and the state is as
// before.
func (s *Store) commit(ctx context.Context, batch []*op) {
	finish := func(err error) {
		for _, o := range batch {
			o.done <- err
		}
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		finish(fmt.Errorf("create state directory: %w", err))
		return
	}
	if !s.locked {
		unlock, err := lockDir(ctx, lockDirOf(s.path))
		if err != nil {
			finish(err)
			return
		}
		defer unlock()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(); err != nil {
		finish(err)
		return
	}
	next := s.st.clone()
	errs := make([]error, len(batch))
	changed := false
	for i, o := range batch {
		errs[i] = o.fn(next)
		changed = changed || errs[i] == nil
	}
	if changed {
		info, err := writeAtomic(s.path, next)
		if err != nil {
			for i := range errs {
				if errs[i] == nil {
					errs[i] = err
				}
			}
		} else {
			s.st, s.info = next, info
		}
	}
	for i, o := range batch {
		o.done <- errs[i]
	}
}

// refresh rereads the file when it is not the one st was read from or
// last written to. s.mu must be held. On error st is left as it was.
func (s *Store) refresh() error {
	info, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if s.info == nil {
			return nil
		}
	case err != nil:
		return fmt.Errorf("read state %s: %w", s.path, err)
	case s.info != nil && os.SameFile(info, s.info) && info.ModTime().Equal(s.info.ModTime()) && info.Size() == s.info.Size():
		return nil
	}
	st, info, err := load(s.path)
	if err != nil {
		return err
	}
	s.st, s.info = st, info
	return nil
}

// find returns the index of the monitor with the given ID.
func (st *state) find(id int64) (int, bool) {
	i := sort.Search(len(st.Monitors), func(i int) bool { return st.Monitors[i].ID >= id })
	return i, i < len(st.Monitors) && st.Monitors[i].ID == id
}

// clone returns a copy of st whose monitor list can be changed without
// changing st's. The monitors themselves are never changed in place.
func (st *state) clone() *state {
	c := *st
	c.Monitors = slices.Clone(st.Monitors)
	return &c
}

// cloneMonitor returns a copy of m that shares no memory with it.
func cloneMonitor(m monitor.Monitor) monitor.Monitor {
	m.Tags = slices.Clone(m.Tags)
	t := &m.Options.Thresholds
	t.Critical = cloneFloat(t.Critical)
	t.CriticalRecovery = cloneFloat(t.CriticalRecovery)
	t.Warning = cloneFloat(t.Warning)
	t.WarningRecovery = cloneFloat(t.WarningRecovery)
	if w := m.Options.ThresholdWindows; w != nil {
		c := *w
		m.Options.ThresholdWindows = &c
	}
	return m
}

func cloneFloat(f *float64) *float64 {
	if f == nil {
		return nil
	}
	v := *f
	return &v
}
