package reconcile_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/localstore"
	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/reconcile"
)

// planOf computes the plan of records against the backend's store, as
// "esm plan --out" does, without applying it.
func planOf(t *testing.T, b reconcile.Backend, records ...string) *monitor.Plan {
	t.Helper()
	resp, err := reconcile.Run(context.Background(), reconcile.Request{Env: "prod", Specs: specsFor(t, records...), Backend: b})
	require.NoError(t, err)
	return resp.Plan
}

// byName returns the stored monitor called name.
func byName(t *testing.T, s monitor.Lister, name string) monitor.Monitor {
	t.Helper()
	ms, err := s.List(context.Background(), "")
	require.NoError(t, err)
	for _, m := range ms {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no monitor %q", name)
	return monitor.Monitor{}
}

// ApplySaved applies the saved changes, not the schemas': a plan made for
// A and B creates A and B, whatever the specs say by then, and a second
// apply of the same plan is stale.
func TestApplySavedAppliesThePlan(t *testing.T) {
	ctx := context.Background()
	b, store := localBackend(t)
	plan := planOf(t, b, "A", "B")

	resp, err := reconcile.ApplySaved(ctx, reconcile.SavedRequest{Plan: plan, Store: store})
	require.NoError(t, err)
	assert.True(t, resp.Applied)
	assert.Len(t, resp.Results, 2)
	assert.False(t, resp.Failed())
	assert.ElementsMatch(t, []string{"Traffic Anomaly with A", "Traffic Anomaly with B"}, names(t, store))

	_, err = reconcile.ApplySaved(ctx, reconcile.SavedRequest{Plan: plan, Store: store})
	var stale *reconcile.StalePlanError
	require.ErrorAs(t, err, &stale)
	require.Len(t, stale.Monitors, 2)
	assert.Equal(t, reconcile.Appeared, stale.Monitors[0].How)
	assert.Len(t, names(t, store), 2, "no twin")
}

// Every monitor a saved plan touches that changed since is named, with
// how it changed; nothing is applied, not even the changes that are not
// stale.
func TestApplySavedRefusesStalePlans(t *testing.T) {
	ctx := context.Background()
	b, store := localBackend(t)
	_, err := reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specsFor(t, "A", "B", "C"), Backend: b, Apply: true})
	require.NoError(t, err)
	// Plan: update A (its query was edited), delete B and C, create D.
	a := byName(t, store, "Traffic Anomaly with A")
	a.Query = "avg(last_5m):sum:edited{*} > 1"
	require.NoError(t, store.Update(ctx, a.ID, &a))
	plan := planOf(t, b, "A", "D")
	require.Equal(t, monitor.Summary{Create: 1, Update: 1, Delete: 2, Drift: 1}, plan.Summary(), "A was edited outside esm")

	a.Message = "edited in the UI"
	a.Priority = 1
	require.NoError(t, store.Update(ctx, a.ID, &a))
	bID := byName(t, store, "Traffic Anomaly with B").ID
	require.NoError(t, store.Delete(ctx, bID))
	dID, err := store.Create(ctx, &monitor.Monitor{Definition: monitor.Definition{Name: "Traffic Anomaly with D", Type: "query alert", Query: "q", Tags: []string{"esm-prod"}}})
	require.NoError(t, err)
	before, err := store.List(ctx, "")
	require.NoError(t, err)

	confirmed := false
	resp, err := reconcile.ApplySaved(ctx, reconcile.SavedRequest{Plan: plan, Store: store,
		Confirm: func(context.Context, *monitor.Plan) error { confirmed = true; return nil }})
	var stale *reconcile.StalePlanError
	require.ErrorAs(t, err, &stale)
	assert.Equal(t, []reconcile.StaleMonitor{
		{Name: "Traffic Anomaly with A", ID: a.ID, How: reconcile.Changed, Fields: []string{"message", "priority"}},
		{Name: "Traffic Anomaly with B", ID: bID, How: reconcile.Gone},
		{Name: "Traffic Anomaly with D", ID: dID, How: reconcile.Appeared},
	}, stale.Monitors, "C, unchanged since, is not named")
	assert.Equal(t, fmt.Sprintf(`the saved plan is stale, nothing was changed: monitor %d "Traffic Anomaly with A" changed since the plan: message, priority; `+
		`monitor %d "Traffic Anomaly with B" was deleted, or lost its environment tag, since the plan; `+
		`monitor "Traffic Anomaly with D", which the plan creates, was created since the plan (id %d); make a new plan`, a.ID, bID, dID), err.Error())
	assert.False(t, confirmed, "a stale plan asks nothing")
	assert.False(t, resp.Applied)
	after, err := store.List(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, before, after, "nothing changed, C is still there")
}

// A monitor that lost the environment's tag is gone for the plan; one of
// a create's name that lacks the tag (not esm's) does not make it stale.
func TestApplySavedChecksOnlyTaggedMonitors(t *testing.T) {
	ctx := context.Background()
	b, store := localBackend(t)
	plan := planOf(t, b, "A")
	_, err := store.Create(ctx, &monitor.Monitor{Definition: monitor.Definition{Name: "Traffic Anomaly with A", Type: "query alert", Query: "q", Tags: []string{"team:x"}}})
	require.NoError(t, err)
	resp, err := reconcile.ApplySaved(ctx, reconcile.SavedRequest{Plan: plan, Store: store})
	require.NoError(t, err)
	assert.True(t, resp.Applied)
}

// The guard holds for saved plans; a plan without changes applies
// nothing and does not even list the store.
func TestApplySavedGuardAndNoChanges(t *testing.T) {
	ctx := context.Background()
	b, store := localBackend(t)
	_, err := reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specsFor(t, "A", "B", "C"), Backend: b, Apply: true})
	require.NoError(t, err)
	plan := planOf(t, b)
	_, err = reconcile.ApplySaved(ctx, reconcile.SavedRequest{Plan: plan, Store: store, Options: monitor.ApplyOptions{MaxDeletes: 2}})
	var md *monitor.MassDeleteError
	require.ErrorAs(t, err, &md)
	assert.Len(t, names(t, store), 3)

	listed := false
	none := planOf(t, b, "A", "B", "C")
	resp, err := reconcile.ApplySaved(ctx, reconcile.SavedRequest{Plan: none, Store: listSpy{Store: store, listed: &listed}})
	require.NoError(t, err)
	assert.False(t, resp.Applied)
	assert.Same(t, none, resp.Plan)
	assert.False(t, listed)
}

// ApplySaved holds the store's lock from the check to the last change:
// it waits for another run's lock, saying so.
func TestApplySavedTakesTheLock(t *testing.T) {
	ctx := context.Background()
	b, store := localBackend(t)
	plan := planOf(t, b, "A")
	unlock, err := store.Lock(ctx)
	require.NoError(t, err)
	waiting := make(chan struct{}, 2)
	done := make(chan error, 1)
	go func() {
		_, err := reconcile.ApplySaved(ctx, reconcile.SavedRequest{Plan: plan, Store: store, Waiting: func() { waiting <- struct{}{} }})
		done <- err
	}()
	select {
	case <-waiting:
	case <-time.After(30 * time.Second): // a safety net, not a measure
		t.Fatal("the apply never said it waits")
	}
	// Another run creates the monitor meanwhile: the saved plan is then
	// stale, and the waiting apply must see it.
	_, err = store.Create(ctx, &monitor.Monitor{Definition: monitor.Definition{Name: "Traffic Anomaly with A", Type: "query alert", Query: "q", Tags: []string{"esm-prod"}}})
	require.NoError(t, err)
	unlock()
	var stale *reconcile.StalePlanError
	require.ErrorAs(t, <-done, &stale)
	assert.Len(t, names(t, store), 1)
}

var _ monitor.Locker = (*localstore.Store)(nil)
