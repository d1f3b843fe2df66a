package main

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/datadog/ddtest"
	"github.com/esm-dev/esm/internal/localstore"
	"github.com/esm-dev/esm/internal/monitor"
)

// handMadeQuery is the query of the monitors the tests make by hand.
const handMadeQuery = "avg(last_5m):sum:hand.made{*} > 1"

// adoptionStores are the two stores the adoption tests run against: each
// seeds one monitor made outside esm, named as esm names Ping's monitor,
// and lists every monitor of the store.
var adoptionStores = []struct {
	name string
	seed func(t *testing.T, w *workspace) (id int64, list func() []monitor.Monitor)
}{
	{"local state", func(t *testing.T, w *workspace) (int64, func() []monitor.Monitor) {
		s, err := localstore.Open(w.statePath())
		require.NoError(t, err)
		id, err := s.Create(context.Background(), &monitor.Monitor{Definition: monitor.Definition{
			Name: "Traffic Anomaly with Ping", Type: "query alert", Query: handMadeQuery, Tags: []string{"team:ops"},
			Options: monitor.Options{Thresholds: monitor.Thresholds{Critical: monitor.Float(1)}},
		}})
		require.NoError(t, err)
		return id, func() []monitor.Monitor {
			ms, err := s.List(context.Background(), "")
			require.NoError(t, err)
			return ms
		}
	}},
	{"Datadog", func(t *testing.T, _ *workspace) (int64, func() []monitor.Monitor) {
		dd := useDatadog(t)
		ids := dd.Seed(ddtest.Monitor{Name: "Traffic Anomaly with Ping", Type: "query alert", Query: handMadeQuery, Tags: []string{"team:ops"}})
		return ids[0], func() []monitor.Monitor {
			var out []monitor.Monitor
			for _, m := range dd.Monitors() {
				out = append(out, monitor.Monitor{ID: m.ID, Definition: monitor.Definition{Name: m.Name, Query: m.Query, Tags: m.Tags}})
			}
			return out
		}
	}},
}

// The plan notes the same-name unmanaged monitor; adopt shows it and
// changes nothing; adopt --yes tags it; apply then updates it (same ID)
// and creates only the other monitor: one monitor of the name in the end.
func TestAdoptThenApply(t *testing.T) {
	for _, st := range adoptionStores {
		t.Run(st.name, func(t *testing.T) {
			w := newWorkspace(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
			id, list := st.seed(t, w)
			from := " for com.example.test.Ping (" + w.file() + ")"

			r := w.esm("plan")
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stdout, "Notes:\n  - \"Traffic Anomaly with Ping\": an unmanaged monitor with this name exists (id "+itoa(id)+"): `esm adopt` would manage it instead of creating a second\n")
			assert.Contains(t, r.stdout, "Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged.")

			before := list()
			r = w.esm("adopt")
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, "would adopt monitor "+itoa(id)+` "Traffic Anomaly with Ping"`+from+"\nRun esm adopt --yes to adopt them.\n", r.stdout)
			assert.Equal(t, before, list(), "without --yes nothing changes")

			r = w.esm("adopt", "--yes")
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, "adopted monitor "+itoa(id)+` "Traffic Anomaly with Ping"`+from+"\nAdopt complete: 1 adopted.\n", r.stdout)
			after := list()
			require.Len(t, after, 1, "nothing created")
			assert.Equal(t, handMadeQuery, after[0].Query, "the definition is kept")
			assert.Contains(t, after[0].Tags, "esm-prod")
			assert.Contains(t, after[0].Tags, "managed_by:esm")
			assert.Contains(t, after[0].Tags, "team:ops")

			r = w.esm("plan")
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stdout, `  ~ monitor "Traffic Anomaly with Ping" {`)
			assert.NotContains(t, r.stdout, "unmanaged")
			assert.Contains(t, r.stdout, "Plan: 1 to create, 1 to update, 0 to delete, 0 unchanged.")

			r = w.esm("apply", "--yes")
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stdout, "Apply complete: 1 created, 1 updated, 0 deleted, 0 failed.")
			var pings []int64
			for _, m := range list() {
				if m.Name == "Traffic Anomaly with Ping" {
					pings = append(pings, m.ID)
				}
			}
			assert.Equal(t, []int64{id}, pings, "one monitor of the name, the adopted one")

			r = w.esm("adopt")
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, "No unmanaged monitor has the name of a monitor in scope: nothing to adopt.\n", r.stdout)
		})
	}
}

// Two unmanaged monitors with one name: adopt --yes says so and adopts
// neither; --target and PATHs limit what is looked for; --env is needed.
func TestAdoptAmbiguousAndUsage(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
	dd := useDatadog(t)
	ids := dd.Seed(
		ddtest.Monitor{Name: "Traffic Anomaly with Ping", Type: "query alert", Query: handMadeQuery},
		ddtest.Monitor{Name: "Traffic Anomaly with Ping", Type: "query alert", Query: handMadeQuery},
		ddtest.Monitor{Name: "Traffic Anomaly with Pong", Type: "query alert", Query: handMadeQuery},
	)

	r := w.esm("adopt", "--yes", "--target", "Ping")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, `cannot adopt "Traffic Anomaly with Ping" for com.example.test.Ping (`+w.file()+"): 2 unmanaged monitors have this name (ids "+itoa(ids[0])+", "+itoa(ids[1])+"); delete or rename all but one\n"+
		"No unmanaged monitor has the name of a monitor in scope: nothing to adopt.\n", r.stdout)
	for _, m := range dd.Monitors() {
		assert.Empty(t, m.Tags, "nothing adopted")
	}

	r = runESM(t, "adopt", w.schemas)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "esm: --env is required")
}

// itoa is id in decimal.
func itoa(id int64) string { return strconv.FormatInt(id, 10) }
