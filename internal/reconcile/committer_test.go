package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/localstore"
	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/reconcile"
)

// committingStore is a store that writes its changes at once, as the
// Prometheus rules file does, failing with commitErr.
type committingStore struct {
	*localstore.Store
	commits   int
	commitErr error
}

func (s *committingStore) Commit(context.Context) ([]string, error) {
	s.commits++
	if s.commitErr != nil {
		return nil, s.commitErr
	}
	return []string{"wrote the file"}, nil
}

// TestRunCommits: an apply ends with the store's Commit, whose notes are
// the response's and whose error fails every change; a spec the backend
// has no form for is a note, not an error; RenderMany's resources are
// planned each under its name.
func TestRunCommits(t *testing.T) {
	ctx := context.Background()
	b, ls := localBackend(t)
	specs := specsFor(t, "Alpha", "Beta")
	noForm := fmt.Errorf("@%s: %w", annotations.TrafficAnomalyAnnotation, monitor.ErrNoForm)
	b.RenderMany = func(s annotations.Spec) ([]monitor.Definition, error) {
		if s.Target.Record == "Beta" {
			return nil, noForm
		}
		d, err := b.Render(s)
		twin := d
		twin.Name += " (twin)"
		return []monitor.Definition{d, twin}, err
	}
	store := &committingStore{Store: ls}
	b.Store = store

	resp, err := reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specs, Backend: b, Apply: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"Traffic Anomaly with Beta (schemas/a.avdl:2:3): @traffic_anomaly_monitor: no form in this backend; not planned"}, resp.Plan.Notes)
	assert.Equal(t, 2, resp.Plan.Summary().Create)
	assert.Equal(t, []string{"wrote the file"}, resp.Notes)
	assert.Equal(t, 1, store.commits)
	assert.False(t, resp.Failed())
	assert.ElementsMatch(t, []string{"Traffic Anomaly with Alpha", "Traffic Anomaly with Alpha (twin)"}, names(t, ls))

	// Nothing to apply: no commit.
	_, err = reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specs, Backend: b, Apply: true})
	require.NoError(t, err)
	assert.Equal(t, 1, store.commits)

	store.commitErr = errors.New("write rules: disk full")
	resp, err = reconcile.Run(ctx, reconcile.Request{Env: "prod", Specs: specs[1:], Backend: b, Apply: true})
	require.NoError(t, err)
	require.Len(t, resp.Results, 2)
	for _, r := range resp.Results {
		assert.EqualError(t, r.Err, "write rules: disk full")
	}
	assert.True(t, resp.Failed())
}
