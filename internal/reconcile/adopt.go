package reconcile

import (
	"context"
	"fmt"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

// AdoptRequest is one run of esm adopt: find the unmanaged monitors that
// have the exact name of a monitor specs ask for in Env and, with Apply,
// tag them so that esm manages them.
type AdoptRequest struct {
	Env     string
	Specs   []annotations.Spec
	Backend Backend
	// Scope limits the desired monitors whose names are looked for (the
	// PATHs and --target of esm adopt); the zero Scope is the whole tree.
	Scope monitor.Scope
	// Apply tags the candidates; without it nothing is changed.
	Apply bool
	// Waiting is told, once, when an apply waits for the store's lock
	// because another run holds it.
	Waiting func()
}

// Candidate is an unmanaged monitor that esm adopts, or would adopt: the
// only one with the name of a desired monitor.
type Candidate struct {
	// Monitor is the monitor as the store listed it.
	Monitor monitor.Monitor
	// Desired is the monitor the schemas ask for under its name.
	Desired *monitor.Desired
	// Err is set when tagging it failed.
	Err error
}

// AdoptResponse is what an adoption found and did.
type AdoptResponse struct {
	// Candidates are the monitors adopted (with Apply) or that would be,
	// sorted by name.
	Candidates []Candidate
	// Ambiguous are the names that several unmanaged monitors have: esm
	// adopts none of them and says so.
	Ambiguous []monitor.Twin
	// Applied is set when the candidates were tagged; each Err then says
	// whether its update failed.
	Applied bool
}

// Failed reports whether tagging any candidate failed.
func (r *AdoptResponse) Failed() bool {
	for _, c := range r.Candidates {
		if c.Err != nil {
			return true
		}
	}
	return false
}

// Adopt renders the specs, lists every monitor of the backend and matches
// the unmanaged ones (no esm tag at all) to the desired monitors in scope
// by exact name, leaving out names a monitor of the environment already
// has (monitor.UnmanagedTwins). With Apply it updates each candidate to
// its current definition plus esm's identity tags (monitor.Twin.Adopted),
// so that the next plan shows an ordinary update of the fields that
// differ; it never creates nor deletes a monitor, and a name several
// unmanaged monitors have is reported, not adopted. On a store with a
// lock (monitor.Locker), an apply holds it from the list to the last
// update, as Run does.
func Adopt(ctx context.Context, req AdoptRequest) (*AdoptResponse, error) {
	desired, _, unlock, err := begin(ctx, req.Env, req.Specs, req.Backend, req.Apply, req.Waiting)
	if err != nil {
		return nil, err
	}
	defer unlock()
	store := req.Backend.Store
	all, err := store.List(ctx, "")
	if err != nil {
		// Stores name the operation ("list monitors: ...").
		return nil, err
	}
	res := &AdoptResponse{}
	for _, t := range monitor.UnmanagedTwins(req.Env, desired, all, req.Scope) {
		if t.Ambiguous() {
			res.Ambiguous = append(res.Ambiguous, t)
			continue
		}
		res.Candidates = append(res.Candidates, Candidate{Monitor: t.Monitors[0], Desired: t.Desired})
	}
	if !req.Apply {
		return res, nil
	}
	for i := range res.Candidates {
		c := &res.Candidates[i]
		if err := ctx.Err(); err != nil {
			c.Err = fmt.Errorf("adopt monitor %d: %w", c.Monitor.ID, err)
			continue
		}
		twin := monitor.Twin{Desired: c.Desired, Monitors: []monitor.Monitor{c.Monitor}}
		adopted := twin.Adopted(req.Env)
		if err := store.Update(ctx, c.Monitor.ID, &adopted); err != nil {
			c.Err = fmt.Errorf("adopt monitor %d: %w", c.Monitor.ID, err)
		}
	}
	res.Applied = true
	return res, nil
}
