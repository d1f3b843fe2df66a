package reconcile

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/esm-dev/esm/internal/monitor"
)

// SavedRequest applies a saved plan ("esm apply FILE"): exactly its
// changes, against the store it was made for.
type SavedRequest struct {
	// Plan is the saved plan: Desired set for creates and updates, Current
	// (the owned fields the plan was computed against) for updates and
	// deletes.
	Plan *monitor.Plan
	// Store is the store the plan was made against.
	Store monitor.Store
	// Options bound the apply: the mass-delete guard and the concurrency.
	Options monitor.ApplyOptions
	// Waiting is told, once, when the apply waits for the store's lock.
	Waiting func()
	// Confirm, when set, is asked after the checks and the guard; an error
	// stops the run with nothing applied. esm apply FILE sets none: a
	// saved plan was reviewed when it was made.
	Confirm func(context.Context, *monitor.Plan) error
}

// Staleness says how a monitor a saved plan touches differs from what the
// plan was computed against.
type Staleness string

// The ways a monitor can have changed since a plan was made.
const (
	// Changed: the monitor's owned fields differ from the saved ones.
	Changed Staleness = "changed"
	// Gone: the monitor is deleted, or no longer carries the
	// environment's tag.
	Gone Staleness = "deleted"
	// Appeared: a monitor the plan creates exists now.
	Appeared Staleness = "created"
)

// StaleMonitor is one monitor that changed since a saved plan was made.
type StaleMonitor struct {
	Name string
	// ID is the monitor's ID: the saved one for Changed and Gone, the new
	// monitor's for Appeared.
	ID  int64
	How Staleness
	// Fields are the owned fields that changed (Changed only).
	Fields []string
}

// String says what changed, as "monitor 12 "X" changed since the plan:
// query, options.thresholds.critical".
func (s StaleMonitor) String() string {
	name := strconv.Quote(s.Name)
	switch s.How {
	case Changed:
		return fmt.Sprintf("monitor %d %s changed since the plan: %s", s.ID, name, strings.Join(s.Fields, ", "))
	case Gone:
		return fmt.Sprintf("monitor %d %s was deleted, or lost its environment tag, since the plan", s.ID, name)
	}
	return fmt.Sprintf("monitor %s, which the plan creates, was created since the plan (id %d)", name, s.ID)
}

// StalePlanError is ApplySaved's refusal: monitors the plan touches
// changed since it was made. Nothing was changed.
type StalePlanError struct {
	Monitors []StaleMonitor
}

// Error names every monitor that changed, on one line.
func (e *StalePlanError) Error() string {
	parts := make([]string, len(e.Monitors))
	for i, m := range e.Monitors {
		parts[i] = m.String()
	}
	return fmt.Sprintf("the saved plan is stale, nothing was changed: %s; make a new plan", strings.Join(parts, "; "))
}

// ApplySaved applies a saved plan exactly: on a store with a lock it takes
// the lock, lists the monitors with the plan's environment tag and
// refuses with a *StalePlanError, changing nothing, when any monitor the
// plan touches changed since the plan was made (an update's or delete's
// monitor whose owned fields differ from the saved ones or that is gone,
// or a monitor of a create's name that exists now). Then it checks the
// mass-delete guard, asks Confirm and applies the saved changes, not a
// fresh render. A plan without changes applies nothing and reads nothing.
func ApplySaved(ctx context.Context, req SavedRequest) (*Response, error) {
	res := &Response{Plan: req.Plan}
	if !req.Plan.HasChanges() {
		return res, nil
	}
	unlock, err := lockStore(ctx, req.Store, true, req.Waiting)
	if err != nil {
		return res, err
	}
	defer unlock()
	current, err := req.Store.List(ctx, req.Plan.Tag)
	if err != nil {
		return res, err
	}
	if stale := staleMonitors(req.Plan, current); len(stale) > 0 {
		return res, &StalePlanError{Monitors: stale}
	}
	if err := monitor.CheckGuard(req.Plan, req.Options); err != nil {
		return res, err
	}
	if req.Confirm != nil {
		if err := req.Confirm(ctx, req.Plan); err != nil {
			return res, err
		}
	}
	results, err := monitor.Apply(ctx, req.Store, req.Plan, req.Options)
	if err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	res.Applied, res.Results = true, results
	return res, nil
}

// staleMonitors compares the monitors a plan touches with current, the
// monitors that carry its environment's tag now, in the plan's order.
func staleMonitors(p *monitor.Plan, current []monitor.Monitor) []StaleMonitor {
	byID := make(map[int64]*monitor.Monitor, len(current))
	byName := make(map[string]*monitor.Monitor, len(current))
	for i := range current {
		m := &current[i]
		if !monitor.HasTag(m.Tags, p.Tag) {
			continue // a store may list more than asked
		}
		byID[m.ID] = m
		if old, ok := byName[m.Name]; !ok || m.ID < old.ID {
			byName[m.Name] = m
		}
	}
	var out []StaleMonitor
	for i := range p.Changes {
		c := &p.Changes[i]
		switch c.Action {
		case monitor.Create:
			if m, ok := byName[c.Name]; ok {
				out = append(out, StaleMonitor{Name: c.Name, ID: m.ID, How: Appeared})
			}
		case monitor.Update, monitor.Delete:
			m, ok := byID[c.ID]
			if !ok {
				out = append(out, StaleMonitor{Name: c.Name, ID: c.ID, How: Gone})
				continue
			}
			if diff := monitor.FieldDiffs(&c.Current.Definition, &m.Definition); len(diff) > 0 {
				s := StaleMonitor{Name: c.Name, ID: c.ID, How: Changed}
				for _, d := range diff {
					s.Fields = append(s.Fields, d.Field)
				}
				out = append(out, s)
			}
		}
	}
	return out
}
