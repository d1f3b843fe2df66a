package reconcile_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/datadog"
	"github.com/esm-dev/esm/internal/localstore"
	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/reconcile"
)

// specsFor returns the anomaly specs of records in prod.
func specsFor(t *testing.T, records ...string) []annotations.Spec {
	t.Helper()
	var out []annotations.Spec
	for i, r := range records {
		tg := annotations.Target{Record: r, FullName: "com.example." + r, File: "schemas/a.avdl", Line: i + 1,
			Env: annotations.Environment{Name: "prod", Metric: "esm.events.received", EnvTag: "prod"}}
		s, err := annotations.TrafficAnomaly().Spec(tg, nil)
		require.NoError(t, err)
		s.Pos = annotations.Position{File: "schemas/a.avdl", Line: i + 1, Column: 3}
		out = append(out, s)
	}
	return out
}

func localBackend(t *testing.T) (reconcile.Backend, *localstore.Store) {
	t.Helper()
	s, err := localstore.Open(filepath.Join(t.TempDir(), "prod.json"))
	require.NoError(t, err)
	return reconcile.Backend{Render: datadog.Render, Store: s, Description: "local"}, s
}

func names(t *testing.T, s monitor.Lister) []string {
	t.Helper()
	ms, err := s.List(context.Background(), "esm-prod")
	require.NoError(t, err)
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

// Run plans without applying, applies after Confirm, and a second run
// has nothing to do; a declined Confirm applies nothing.
func TestRunPlansConfirmsAndApplies(t *testing.T) {
	ctx := context.Background()
	b, store := localBackend(t)
	specs := specsFor(t, "Alpha", "Beta")

	var seen *monitor.Plan
	resp, err := reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specs, Backend: b, Planned: func(p *monitor.Plan) { seen = p }})
	require.NoError(t, err)
	assert.Same(t, seen, resp.Plan, "Planned sees the plan")
	assert.Equal(t, 2, resp.Plan.Summary().Create)
	assert.False(t, resp.Applied)
	assert.Empty(t, names(t, store), "a plan changes nothing")

	resp, err = reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specs, Backend: b, Apply: true,
		Confirm: func(context.Context, *monitor.Plan) error { return reconcile.ErrDeclined }})
	require.ErrorIs(t, err, reconcile.ErrDeclined)
	require.NotNil(t, resp.Plan)
	assert.False(t, resp.Applied)
	assert.Empty(t, names(t, store), "a declined apply changes nothing")

	asked := 0
	resp, err = reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specs, Backend: b, Apply: true,
		Confirm: func(context.Context, *monitor.Plan) error { asked++; return nil }})
	require.NoError(t, err)
	assert.True(t, resp.Applied)
	assert.Len(t, resp.Results, 2)
	assert.False(t, resp.Failed())
	assert.Equal(t, 1, asked)
	assert.ElementsMatch(t, []string{"Traffic Anomaly with Alpha", "Traffic Anomaly with Beta"}, names(t, store))

	resp, err = reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specs, Backend: b, Apply: true,
		Confirm: func(context.Context, *monitor.Plan) error { asked++; return nil }})
	require.NoError(t, err)
	assert.False(t, resp.Plan.HasChanges())
	assert.False(t, resp.Applied)
	assert.Equal(t, 1, asked, "nothing to confirm without changes")
}

// The guard refuses with a typed error before Confirm is asked, and
// nothing is deleted.
func TestRunGuardRefusesMassDelete(t *testing.T) {
	ctx := context.Background()
	b, store := localBackend(t)
	_, err := reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specsFor(t, "A", "B", "C"), Backend: b, Apply: true})
	require.NoError(t, err)

	resp, err := reconcile.Run(ctx, reconcile.Request{Env: "prod", Backend: b, Apply: true,
		Options: monitor.ApplyOptions{MaxDeletes: 2},
		Confirm: func(context.Context, *monitor.Plan) error { t.Error("Confirm asked despite the guard"); return nil }})
	var md *monitor.MassDeleteError
	require.ErrorAs(t, err, &md)
	assert.Equal(t, monitor.MassDeleteError{Deletes: 3, Max: 2}, *md)
	require.ErrorIs(t, err, monitor.ErrMassDelete)
	assert.Equal(t, 3, resp.Plan.Summary().Delete, "the refused plan is returned")
	assert.Len(t, names(t, store), 3)

	resp, err = reconcile.Run(ctx, reconcile.Request{Env: "prod", Backend: b, Apply: true,
		Options: monitor.ApplyOptions{MaxDeletes: 2, AllowMassDelete: true}})
	require.NoError(t, err)
	assert.True(t, resp.Applied)
	assert.Empty(t, names(t, store))
}

// A spec the backend cannot render stops the run before the store is
// listed, naming the annotation.
func TestRunRenderError(t *testing.T) {
	b, _ := localBackend(t)
	listed := false
	b.Store = listSpy{Store: b.Store, listed: &listed}
	b.Render = func(s annotations.Spec) (monitor.Definition, error) {
		return monitor.Definition{}, errors.New("the test backend has no monitor for @" + s.Kind)
	}
	_, err := reconcile.Run(context.Background(), reconcile.Request{Env: "prod", Specs: specsFor(t, "A"), Backend: b})
	require.EqualError(t, err, "render monitors: schemas/a.avdl:1:3: the test backend has no monitor for @traffic_anomaly_monitor")
	assert.False(t, listed)
}

type listSpy struct {
	monitor.Store
	listed *bool
}

func (l listSpy) List(ctx context.Context, tag string) ([]monitor.Monitor, error) {
	*l.listed = true
	return l.Store.List(ctx, tag)
}

// An apply on a store with a lock waits for it, saying so once; a plan
// does not take it.
func TestRunApplyTakesTheLock(t *testing.T) {
	ctx := context.Background()
	b, store := localBackend(t)
	unlock, err := store.Lock(ctx)
	require.NoError(t, err)

	_, err = reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specsFor(t, "A"), Backend: b})
	require.NoError(t, err, "a plan takes no lock")

	waiting := make(chan struct{}, 2)
	done := make(chan error, 1)
	go func() {
		_, err := reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specsFor(t, "A"), Backend: b, Apply: true,
			Waiting: func() { waiting <- struct{}{} }})
		done <- err
	}()
	select {
	case <-waiting:
	case <-time.After(30 * time.Second): // a safety net, not a measure
		t.Fatal("the apply never said it waits")
	}
	select {
	case err := <-done:
		t.Fatalf("the apply went ahead under another run's lock: %v", err)
	default:
	}
	unlock()
	require.NoError(t, <-done)
	assert.Len(t, waiting, 0, "Waiting is told once")
	assert.Equal(t, []string{"Traffic Anomaly with A"}, names(t, store))
}
