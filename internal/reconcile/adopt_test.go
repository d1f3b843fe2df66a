package reconcile_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/reconcile"
)

// seedHandMade stores a monitor made outside esm (no esm tag) and returns
// its ID.
func seedHandMade(t *testing.T, s monitor.Writer, name string) int64 {
	t.Helper()
	id, err := s.Create(context.Background(), &monitor.Monitor{Definition: monitor.Definition{
		Name: name, Type: "query alert", Query: "avg(last_5m):sum:hand.made{*} > 1", Tags: []string{"team:cart"},
		Options: monitor.Options{Thresholds: monitor.Thresholds{Critical: monitor.Float(1)}},
	}})
	require.NoError(t, err)
	return id
}

// every returns every monitor of the store.
func every(t *testing.T, s monitor.Lister) []monitor.Monitor {
	t.Helper()
	ms, err := s.List(context.Background(), "")
	require.NoError(t, err)
	return ms
}

// A same-name unmanaged monitor: the plan notes it; Adopt without Apply
// changes nothing; with Apply it tags the monitor, and the next plan
// updates it instead of creating a second one.
func TestAdoptTagsTheUnmanagedTwin(t *testing.T) {
	ctx := context.Background()
	b, store := localBackend(t)
	specs := specsFor(t, "Alpha", "Beta")
	id := seedHandMade(t, store, "Traffic Anomaly with Alpha")
	seedHandMade(t, store, "Traffic Anomaly with Alphabet") // not the name

	resp, err := reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specs, Backend: b})
	require.NoError(t, err)
	assert.Equal(t, 2, resp.Plan.Summary().Create)
	assert.Equal(t, []string{
		"\"Traffic Anomaly with Alpha\": an unmanaged monitor with this name exists (id 1): `esm adopt` would manage it instead of creating a second",
	}, resp.Plan.Notes)

	before := every(t, store)
	found, err := reconcile.Adopt(ctx, reconcile.AdoptRequest{Env: "prod", Specs: specs, Backend: b})
	require.NoError(t, err)
	assert.False(t, found.Applied)
	require.Len(t, found.Candidates, 1)
	c := found.Candidates[0]
	assert.Equal(t, id, c.Monitor.ID)
	assert.Equal(t, "Traffic Anomaly with Alpha", c.Desired.Name)
	assert.Equal(t, "com.example.Alpha", c.Desired.Source.Record)
	assert.Equal(t, "schemas/a.avdl", c.Desired.Source.File)
	assert.Empty(t, found.Ambiguous)
	assert.Equal(t, before, every(t, store), "without Apply nothing changes")

	adopted, err := reconcile.Adopt(ctx, reconcile.AdoptRequest{Env: "prod", Specs: specs, Backend: b, Apply: true})
	require.NoError(t, err)
	assert.True(t, adopted.Applied)
	assert.False(t, adopted.Failed())
	require.Len(t, adopted.Candidates, 1)
	after := every(t, store)
	require.Len(t, after, 2, "nothing created, nothing deleted")
	assert.Equal(t, id, after[0].ID)
	assert.Equal(t, before[0].Query, after[0].Query, "the definition is kept")
	assert.Equal(t, []string{"esm-prod", "esm_file:schemas/a.avdl", "esm_record:com.example.alpha", "managed_by:esm", "team:cart"}, after[0].Tags)
	assert.Equal(t, before[1], after[1], "the other monitor is untouched")

	resp, err = reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specs, Backend: b})
	require.NoError(t, err)
	got := map[string]monitor.Action{}
	for _, ch := range resp.Plan.Changes {
		got[ch.Name] = ch.Action
	}
	assert.Equal(t, map[string]monitor.Action{"Traffic Anomaly with Alpha": monitor.Update, "Traffic Anomaly with Beta": monitor.Create}, got)
	assert.Empty(t, resp.Plan.Notes, "adopted: no more note")

	_, err = reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specs, Backend: b, Apply: true})
	require.NoError(t, err)
	var alphas []int64
	for _, m := range every(t, store) {
		if m.Name == "Traffic Anomaly with Alpha" {
			alphas = append(alphas, m.ID)
		}
	}
	assert.Equal(t, []int64{id}, alphas, "one monitor of that name, the adopted one")

	again, err := reconcile.Adopt(ctx, reconcile.AdoptRequest{Env: "prod", Specs: specs, Backend: b, Apply: true})
	require.NoError(t, err)
	assert.Empty(t, again.Candidates, "a managed monitor is not adopted again")
}

// Several unmanaged monitors with one name: Adopt reports the name and
// adopts none of them; a name outside the scope is not looked at.
func TestAdoptAmbiguousAndScoped(t *testing.T) {
	ctx := context.Background()
	b, store := localBackend(t)
	specs := specsFor(t, "Alpha", "Beta")
	seedHandMade(t, store, "Traffic Anomaly with Alpha")
	seedHandMade(t, store, "Traffic Anomaly with Alpha")
	seedHandMade(t, store, "Traffic Anomaly with Beta")
	before := every(t, store)

	resp, err := reconcile.Adopt(ctx, reconcile.AdoptRequest{Env: "prod", Specs: specs, Backend: b, Apply: true,
		Scope: monitor.Scope{Targets: []string{"alpha"}}})
	require.NoError(t, err)
	assert.Empty(t, resp.Candidates, "Beta is out of scope, Alpha ambiguous")
	require.Len(t, resp.Ambiguous, 1)
	assert.Equal(t, "Traffic Anomaly with Alpha", resp.Ambiguous[0].Desired.Name)
	assert.Equal(t, "1, 2", resp.Ambiguous[0].IDs())
	assert.Equal(t, before, every(t, store), "nothing adopted")
}

// A failed update is the candidate's error; the others are still adopted.
func TestAdoptUpdateFails(t *testing.T) {
	ctx := context.Background()
	b, store := localBackend(t)
	seedHandMade(t, store, "Traffic Anomaly with Alpha")
	seedHandMade(t, store, "Traffic Anomaly with Beta")
	b.Store = failingUpdate{Store: store, id: 1}

	resp, err := reconcile.Adopt(ctx, reconcile.AdoptRequest{Env: "prod", Specs: specsFor(t, "Alpha", "Beta"), Backend: b, Apply: true})
	require.NoError(t, err)
	assert.True(t, resp.Failed())
	require.Len(t, resp.Candidates, 2)
	assert.EqualError(t, resp.Candidates[0].Err, "adopt monitor 1: update refused")
	assert.NoError(t, resp.Candidates[1].Err)
	assert.Equal(t, []string{"Traffic Anomaly with Beta"}, names(t, store))
}

type failingUpdate struct {
	monitor.Store
	id int64
}

func (f failingUpdate) Update(ctx context.Context, id int64, m *monitor.Monitor) error {
	if id == f.id {
		return errors.New("update refused")
	}
	return f.Store.Update(ctx, id, m)
}

// A plan without creates lists the store once; one with creates lists
// every monitor once more, for the notes.
func TestRunListsEveryMonitorOnlyForCreates(t *testing.T) {
	ctx := context.Background()
	b, store := localBackend(t)
	var tags []string
	b.Store = tagSpy{Store: store, tags: &tags}
	specs := specsFor(t, "Alpha")

	_, err := reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specs, Backend: b, Apply: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"esm-prod", ""}, tags)

	tags = nil
	_, err = reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specs, Backend: b})
	require.NoError(t, err)
	assert.Equal(t, []string{"esm-prod"}, tags, "nothing to create: one list")
}

type tagSpy struct {
	monitor.Store
	tags *[]string
}

func (s tagSpy) List(ctx context.Context, tag string) ([]monitor.Monitor, error) {
	*s.tags = append(*s.tags, tag)
	return s.Store.List(ctx, tag)
}
