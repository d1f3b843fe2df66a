package main

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/datadog/ddtest"
)

// monitorID returns the ID of the fake's monitor called name.
func monitorID(t *testing.T, dd *ddtest.Server, name string) int64 {
	t.Helper()
	for _, m := range dd.Monitors() {
		if m.Name == name {
			return m.ID
		}
	}
	t.Fatalf("no monitor %q in the fake Datadog", name)
	return 0
}

// raiseThreshold edits a monitor as someone in Datadog's UI raising its
// alert threshold from 1 to 2 does: the query's comparison and the
// critical threshold together.
func raiseThreshold(m map[string]any) {
	m["query"] = strings.Replace(m["query"].(string), ">= 1", ">= 2", 1)
	m["options"].(map[string]any)["thresholds"].(map[string]any)["critical"] = 2
}

// A monitor edited in Datadog's UI after esm applied it: on an unchanged
// tree the plan says it was changed outside esm and which fields (text,
// JSON and the PR comment), --detailed-exitcode exits 2, and applying
// reverts it and leaves a clean plan.
func TestDriftEndToEnd(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
	// In the workspace, outside a Git work tree: the schemas' paths do
	// not depend on where the test runs, and the PR comment names no
	// commit.
	t.Chdir(filepath.Dir(w.schemas))
	dd := useDatadog(t)
	r := w.esm("apply", "--yes")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	r = w.esm("plan", "--detailed-exitcode")
	require.Equal(t, exitOK, r.code, "a fresh apply plans no change: %s", r.stdout)

	id := monitorID(t, dd, "Traffic Anomaly with Ping")
	pong := monitorID(t, dd, "Traffic Anomaly with Pong")
	dd.EditMonitor(t, id, raiseThreshold)

	// The fake's IDs depend on the order of concurrent creates; the
	// goldens do not.
	stable := func(s string) string {
		s = strings.ReplaceAll(s, strconv.FormatInt(id, 10), "$PING_ID")
		return strings.ReplaceAll(s, strconv.FormatInt(pong, 10), "$PONG_ID")
	}
	r = w.esm("plan", "--detailed-exitcode")
	assert.Equal(t, exitChanges, r.code, "an edit outside esm is a change to apply: stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "  ~ update (changed outside esm: query, options.thresholds.critical)\n")
	assert.Contains(t, r.stdout, "Plan: 0 to create, 1 to update (1 changed outside esm), 0 to delete, 1 unchanged.\n")
	golden(t, "drift.txt", []byte(stable(r.stdout)))

	r = w.esm("plan", "--output", "json", "--detailed-exitcode")
	assert.Equal(t, exitChanges, r.code, "stderr: %s", r.stderr)
	var plan struct {
		Changes []struct {
			Action        string
			Name          string
			Drift         bool
			DriftedFields []string `json:"drifted_fields"`
		}
		Summary map[string]int
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &plan))
	require.Len(t, plan.Changes, 2)
	assert.Equal(t, "update", plan.Changes[0].Action)
	assert.True(t, plan.Changes[0].Drift)
	assert.Equal(t, []string{"query", "options.thresholds.critical"}, plan.Changes[0].DriftedFields)
	assert.False(t, plan.Changes[1].Drift, "Pong was not edited")
	assert.Equal(t, 1, plan.Summary["drift"])
	golden(t, "drift.json", []byte(stable(r.stdout)))

	r = w.esm("plan", "--output", "markdown")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "**Plan:** 0 to create, 1 to update (1 changed outside esm), 0 to delete, 1 unchanged.")
	assert.Contains(t, r.stdout, " — ⚠️ <b>changed outside esm:</b> <code>query</code>, <code>options.thresholds.critical</code></summary>")
	golden(t, "drift.md", []byte(stable(r.stdout)))

	r = w.esm("apply", "--yes")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "Apply complete: 0 created, 1 updated, 0 deleted, 0 failed.\n")
	r = w.esm("plan", "--detailed-exitcode")
	assert.Equal(t, exitOK, r.code, "the second apply leaves a clean plan: %s", r.stdout)
	assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, r.stdout))
}

// Monitors an older esm wrote have no fingerprint: an unchanged tree plans
// no change for them (upgrading esm rewrites no monitor), and an edit
// outside esm is an ordinary update without a verdict on drift.
func TestDriftNeedsAFingerprint(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	dd := useDatadog(t)
	r := w.esm("apply", "--yes")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	id := monitorID(t, dd, "Traffic Anomaly with Ping")
	removeFingerprint := func(m map[string]any) {
		var tags []any
		for _, tag := range m["tags"].([]any) {
			if !strings.HasPrefix(tag.(string), "esm_fingerprint:") {
				tags = append(tags, tag)
			}
		}
		require.Len(t, tags, len(m["tags"].([]any))-1, "esm wrote one fingerprint tag")
		m["tags"] = tags
	}
	dd.EditMonitor(t, id, removeFingerprint)
	dd.ResetRequests()

	r = w.esm("plan", "--detailed-exitcode")
	assert.Equal(t, exitOK, r.code, "no fingerprint is no change: %s", r.stdout)
	r = w.esm("apply", "--yes")
	require.Equal(t, exitOK, r.code)
	assert.Zero(t, dd.CountRequests("PUT", "/api/v1/monitor/"+strconv.FormatInt(id, 10)), "apply does not write only to add a fingerprint")

	dd.EditMonitor(t, id, raiseThreshold)
	r = w.esm("plan", "--detailed-exitcode")
	assert.Equal(t, exitChanges, r.code)
	assert.Contains(t, r.stdout, "will be updated in place")
	assert.NotContains(t, r.stdout, "changed outside esm", "no fingerprint, no verdict")
}
