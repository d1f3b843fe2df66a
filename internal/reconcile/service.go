package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/monitor"
)

// Backend is where the monitors of an environment live: how specs are
// rendered into the store's resources, and the store.
type Backend struct {
	// Render renders a spec (datadog.Render for Datadog and for the local
	// state store, which keeps Datadog's shape).
	Render Renderer
	// RenderMany, when set, is used instead of Render by a backend whose
	// spec becomes several resources (Prometheus: one alerting rule per
	// severity), each with its own name.
	RenderMany func(annotations.Spec) ([]monitor.Definition, error)
	// Store lists and changes the monitors.
	Store monitor.Store
	// Description names the backend for people: "Datadog at datadoghq.com".
	Description string
}

// Request is one run of the use case: plan the monitors specs ask for in
// Env against Backend, and, with Apply, carry the plan out.
type Request struct {
	Env     string
	Specs   []annotations.Spec
	Backend Backend
	// Scope limits the monitors the plan may touch (the bot's change
	// set); the zero Scope is the whole tree.
	Scope monitor.Scope
	// Apply carries the plan out once the guard and Confirm agree.
	Apply bool
	// Options bound the apply: the mass-delete guard and the concurrency.
	Options monitor.ApplyOptions
	// Waiting is told, once, when an apply waits for the store's lock
	// because another run holds it.
	Waiting func()
	// Planned, when set, sees the plan as soon as it is computed (esm
	// apply prints it there).
	Planned func(*monitor.Plan)
	// Confirm, when set, is asked before an apply with changes, after the
	// guard; an error stops the run with nothing applied (a declined
	// question, a pull request head that moved).
	Confirm func(context.Context, *monitor.Plan) error
}

// Response is what a run did. Plan is set once the plan is computed, even
// when an error stopped the run afterwards.
type Response struct {
	Plan *monitor.Plan
	// Applied is set when the plan's changes were carried out; Results
	// then holds one result per change.
	Applied bool
	Results []monitor.Result
	// Notes say what the apply did besides the changes, such as asking
	// Prometheus to reload its rules (monitor.Committer).
	Notes []string
}

// Failed reports whether any applied change failed.
func (r *Response) Failed() bool {
	for _, x := range r.Results {
		if x.Err != nil {
			return true
		}
	}
	return false
}

// Run renders the specs, lists the backend's monitors that carry the
// environment's tag, diffs them into a plan and, for an apply with
// changes, checks the mass-delete guard (a *monitor.MassDeleteError),
// asks Confirm and applies. A plan that creates monitors costs one more
// list, of every monitor, to note the unmanaged ones that already have a
// create's name (monitor.AdoptionNotes: esm adopt would manage them).
// An apply on a store that has a lock (monitor.Locker) holds it from the
// list to the last change, so that concurrent runs take turns instead of
// creating the same monitors. The CLI and the bot both run their plans
// and applies through Run.
func Run(ctx context.Context, req Request) (*Response, error) {
	desired, skipped, unlock, err := begin(ctx, req.Env, req.Specs, req.Backend, req.Apply, req.Waiting)
	if err != nil {
		return nil, err
	}
	defer unlock()
	store := req.Backend.Store
	current, err := store.List(ctx, monitor.EnvTag(req.Env))
	if err != nil {
		// Stores name the operation ("list monitors: ...").
		return nil, err
	}
	res := &Response{Plan: monitor.Diff(req.Env, desired, current, req.Scope)}
	res.Plan.Notes = append(res.Plan.Notes, skipped...)
	if res.Plan.Summary().Create > 0 {
		// One more list, of every monitor, only for a plan that creates:
		// a monitor made by hand with the name of a create would get a
		// twin, and the plan says so (esm adopt).
		all, err := store.List(ctx, "")
		if err != nil {
			return nil, err
		}
		res.Plan.Notes = append(res.Plan.Notes, monitor.AdoptionNotes(res.Plan, all)...)
	}
	if req.Planned != nil {
		req.Planned(res.Plan)
	}
	if !req.Apply || !res.Plan.HasChanges() {
		return res, nil
	}
	if err := monitor.CheckGuard(res.Plan, req.Options); err != nil {
		return res, err
	}
	if req.Confirm != nil {
		if err := req.Confirm(ctx, res.Plan); err != nil {
			return res, err
		}
	}
	results, err := monitor.Apply(ctx, store, res.Plan, req.Options)
	if err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	res.Applied, res.Results = true, results
	if c, ok := store.(monitor.Committer); ok {
		notes, err := c.Commit(ctx)
		if err != nil {
			// Nothing was written: no change took place.
			for i := range res.Results {
				if res.Results[i].Err == nil {
					res.Results[i].Err = err
				}
			}
		}
		res.Notes = notes
	}
	return res, nil
}

// begin renders the specs for env through b and, for an apply on a store
// with a lock (monitor.Locker), takes the lock, telling waiting (when
// not nil) once if another run holds it. The caller defers unlock, which
// does nothing when no lock was taken.
func begin(ctx context.Context, env string, specs []annotations.Spec, b Backend, apply bool, waiting func()) (desired []monitor.Desired, skipped []string, unlock func(), err error) {
	render := b.RenderMany
	if render == nil {
		render = func(s annotations.Spec) ([]monitor.Definition, error) {
			d, err := b.Render(s)
			return []monitor.Definition{d}, err
		}
	}
	desired, skipped, err = renderAll(env, specs, render)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("render monitors: %w", err)
	}
	unlock, err = lockStore(ctx, b.Store, apply, waiting)
	if err != nil {
		return nil, nil, nil, err
	}
	return desired, skipped, unlock, nil
}

// lockStore takes the lock of a store that has one (monitor.Locker) for
// an apply, telling waiting (when not nil) once if another run holds it.
// The caller defers unlock, which does nothing when no lock was taken.
func lockStore(ctx context.Context, s monitor.Store, apply bool, waiting func()) (unlock func(), err error) {
	l, ok := s.(monitor.Locker)
	if !apply || !ok {
		return func() {}, nil
	}
	if waiting == nil {
		waiting = func() {}
	}
	unlock, err = monitor.Lock(ctx, l, waiting)
	if err != nil {
		return nil, fmt.Errorf("lock the store: %w", err)
	}
	return unlock, nil
}

// ErrDeclined is returned by a Confirm that was answered no.
var ErrDeclined = errors.New("apply declined")

// RenderProblems renders every spec with render, as a plan does, and
// reports each one the backend refuses at its annotation: what "esm
// validate" checks short of reading the store. A spec the backend has no
// form for (monitor.ErrNoForm), which the plan skips with a note, is a
// warning.
func RenderProblems(specs []annotations.Spec, render Renderer) diag.List {
	var out diag.List
	for i := range specs {
		if _, err := render(specs[i]); err != nil {
			p := specs[i].Pos
			pos := diag.Position{Filename: p.File, Line: p.Line, Column: p.Column}
			if errors.Is(err, monitor.ErrNoForm) {
				out.Add(diag.Warning, pos, pos, "%v; the plan skips it", err)
				continue
			}
			out.Add(diag.Error, pos, pos, "%v", err)
		}
	}
	return out
}
