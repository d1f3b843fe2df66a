package monitor

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Lister lists the monitors that carry a tag, or every monitor of the
// store when the tag is "". Stores implement it with their pagination;
// the result holds every page.
type Lister interface {
	List(ctx context.Context, tag string) ([]Monitor, error)
}

// Writer changes monitors in a store. Create returns the new monitor's
// ID. Update replaces the monitor's owned fields and its options as a
// whole. Delete of a monitor that is already gone succeeds.
type Writer interface {
	Create(ctx context.Context, m *Monitor) (int64, error)
	Update(ctx context.Context, id int64, m *Monitor) error
	Delete(ctx context.Context, id int64) error
}

// Store is a monitor store: Datadog, or the embedded local state file.
type Store interface {
	Lister
	Writer
}

// Locker is a store that concurrent runs can take turns on: a run holds
// the lock from its List to the end of its Apply, so that no two runs
// plan against the same state and both create a monitor. The local state
// file implements it; unlock releases the lock and may be called more
// than once. Writes of the run that holds the lock do not wait for it.
type Locker interface {
	Lock(ctx context.Context) (unlock func(), err error)
}

// Lock takes l's lock for a run, waiting until it is free or ctx is done.
// When another run holds it, waiting is called once first, so that the
// run can say why it waits. Lockers take a free lock even with a done
// context, which is how Lock tries once.
func Lock(ctx context.Context, l Locker, waiting func()) (unlock func(), err error) {
	tried, cancel := context.WithCancel(ctx)
	cancel()
	unlock, err = l.Lock(tried)
	if err == nil || !errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return unlock, err
	}
	waiting()
	return l.Lock(ctx)
}

// Created is what a ConvergingCreator's create did.
type Created struct {
	// ID is the monitor that now stands for the desired one.
	ID int64
	// Note says what happened when it was not a plain create, such as
	// "a concurrent run created monitor 123 first: updated it and deleted
	// 125"; empty otherwise.
	Note string
}

// ConvergingCreator is a store without a lock (Datadog) whose creates
// converge when runs race: a create that finds the monitor already there
// (same name and environment tag) updates it instead, and one that finds
// an older twin after creating keeps the older one. Apply prefers it to
// Writer.Create and reports the note.
type ConvergingCreator interface {
	CreateConverged(ctx context.Context, m *Monitor) (Created, error)
}

// ApplyOptions bound what Apply may do.
type ApplyOptions struct {
	// Concurrency is the number of changes applied at once. Zero takes the
	// writer's ApplyConcurrency when it has one, else 8.
	Concurrency int
	// MaxDeletes is the largest number of deletions applied without
	// AllowMassDelete (default 10).
	MaxDeletes int
	// AllowMassDelete lifts the MaxDeletes guard.
	AllowMassDelete bool
}

// DefaultMaxDeletes is the mass-delete guard's default.
const DefaultMaxDeletes = 10

// ErrMassDelete is returned, wrapped, when a plan deletes more monitors
// than allowed.
var ErrMassDelete = errors.New("plan deletes too many monitors")

// Result is the outcome of one change.
type Result struct {
	Change *Change
	// ID is the monitor's ID after the change (the new ID for a create).
	ID  int64
	Err error
	// Note explains an outcome that is not the plain change, such as a
	// create that found the monitor made by a concurrent run.
	Note string
}

// MassDeleteError is the mass-delete guard's refusal: the plan deletes
// Deletes monitors (not counting healing deletions), more than Max. It
// matches ErrMassDelete with errors.Is.
type MassDeleteError struct {
	Deletes, Max int
}

// Error says what the guard refused and how to go ahead from the command
// line.
func (e *MassDeleteError) Error() string {
	return fmt.Sprintf("%v: %d deletions, more than the limit of %d; check the plan and rerun with --allow-mass-delete", ErrMassDelete, e.Deletes, e.Max)
}

// Is reports whether target is ErrMassDelete.
func (e *MassDeleteError) Is(target error) bool { return target == ErrMassDelete }

// CheckGuard returns a *MassDeleteError when the plan deletes more
// monitors than opts allow. Deletions that heal a duplicate of a kept
// monitor (Change.Heal) are not counted.
func CheckGuard(p *Plan, opts ApplyOptions) error {
	max := opts.MaxDeletes
	if max <= 0 {
		max = DefaultMaxDeletes
	}
	s := p.Summary()
	if n := s.Delete - s.Healing; n > max && !opts.AllowMassDelete {
		return &MassDeleteError{Deletes: n, Max: max}
	}
	return nil
}

// Apply carries out the plan's creates, updates and deletes with bounded
// concurrency. Every change gets a Result, so that one failure hides no
// other; the error is non-nil only when the mass-delete guard refuses the
// whole plan, in which case nothing is applied.
func Apply(ctx context.Context, w Writer, p *Plan, opts ApplyOptions) ([]Result, error) {
	if err := CheckGuard(p, opts); err != nil {
		return nil, err
	}
	n := opts.Concurrency
	if h, ok := w.(interface{ ApplyConcurrency() int }); ok && n <= 0 {
		n = h.ApplyConcurrency()
	}
	if n <= 0 {
		n = 8
	}
	var todo []*Change
	for i := range p.Changes {
		if p.Changes[i].Action != Unchanged {
			todo = append(todo, &p.Changes[i])
		}
	}
	results := make([]Result, len(todo))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, c := range todo {
		results[i].Change = c
		if err := ctx.Err(); err != nil {
			results[i].Err = err
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(r *Result) {
			defer func() { <-sem; wg.Done() }()
			r.ID, r.Note, r.Err = applyOne(ctx, w, r.Change)
		}(&results[i])
	}
	wg.Wait()
	return results, nil
}

// applyOne carries out one change. Creates and updates write the desired
// definition's fingerprint with it. Its error is the store's, which names
// the operation; the Result carries the change.
func applyOne(ctx context.Context, w Writer, c *Change) (id int64, note string, err error) {
	switch c.Action {
	case Create:
		m := &Monitor{Definition: c.Desired.Definition, Fingerprint: Fingerprint(&c.Desired.Definition)}
		if cc, ok := w.(ConvergingCreator); ok {
			got, err := cc.CreateConverged(ctx, m)
			return got.ID, got.Note, err
		}
		id, err := w.Create(ctx, m)
		return id, "", err
	case Update:
		return c.ID, "", w.Update(ctx, c.ID, &Monitor{ID: c.ID, Definition: c.Desired.Definition, Fingerprint: Fingerprint(&c.Desired.Definition)})
	case Delete:
		return c.ID, "", w.Delete(ctx, c.ID)
	}
	return c.ID, "", nil
}
