package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// onTerminal makes "esm apply" believe standard input is a terminal on
// which the user types answer.
func onTerminal(t *testing.T, answer string) {
	t.Helper()
	saved := applyInput
	t.Cleanup(func() { applyInput = saved })
	applyInput.r = strings.NewReader(answer)
	applyInput.isTerminal = func() bool { return true }
}

func TestApplyConfirmation(t *testing.T) {
	tests := []struct {
		name       string
		answer     string
		args       []string
		wantPrompt bool
		code       int
		applied    bool
	}{
		{name: "yes", answer: "yes\n", wantPrompt: true, code: exitOK, applied: true},
		{name: "yes without newline", answer: "yes", wantPrompt: true, code: exitOK, applied: true},
		{name: "y is not yes", answer: "y\n", wantPrompt: true, code: exitFailure},
		{name: "no answer", answer: "", wantPrompt: true, code: exitFailure},
		{name: "--yes skips the question", args: []string{"--yes"}, code: exitOK, applied: true},
		{name: "-y skips the question", args: []string{"-y"}, code: exitOK, applied: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
			onTerminal(t, tt.answer)
			r := w.esm("apply", tt.args...)
			assert.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, tt.wantPrompt, strings.Contains(r.stdout, confirmPrompt))
			assert.Contains(t, r.stdout, "Plan: 1 to create", "the plan comes before the question")
			if tt.applied {
				assert.Contains(t, r.stdout, "Apply complete: 1 created")
				assert.FileExists(t, w.statePath())
			} else {
				assert.Contains(t, r.stderr, "Apply cancelled: nothing was changed.")
				assert.NotContains(t, r.stdout, "Apply complete")
				assert.NoFileExists(t, w.statePath())
			}
		})
	}
}

// A plan without changes asks nothing, even on a terminal.
func TestApplyNoChangesAsksNothing(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	require.Equal(t, exitOK, w.esm("apply").code)
	onTerminal(t, "")
	r := w.esm("apply")
	assert.Equal(t, exitOK, r.code)
	assert.Equal(t, "No changes. Monitors match the schemas.\n", r.stdout)
}

func TestApplyMassDeleteGuard(t *testing.T) {
	var records []string
	for i := range 11 {
		records = append(records, fmt.Sprintf("Event%02d", i))
	}
	w := newWorkspace(t, annotatedIDL(records, all(records...)))
	require.Equal(t, exitOK, w.esm("apply").code)
	before := w.state()

	w.write(annotatedIDL(records, nil))
	// The guard refuses before asking: on a terminal the question never
	// comes.
	onTerminal(t, "yes\n")
	r := w.esm("apply")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "esm: plan deletes too many monitors: 11 deletions, more than the limit of 10; check the plan and rerun with --allow-mass-delete")
	assert.Contains(t, r.stdout, "Plan: 0 to create, 0 to update, 11 to delete, 0 unchanged.", "the plan is shown")
	assert.NotContains(t, r.stdout, confirmPrompt)
	assert.Equal(t, before, w.state(), "nothing deleted")

	r = w.esm("apply", "--allow-mass-delete", "--yes")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "Apply complete: 0 created, 0 updated, 11 deleted, 0 failed.\n")
	assert.NotContains(t, w.state(), "Event")
}

// The environment's max_deletes from esm.yaml sets the guard.
func TestApplyMassDeleteGuardFromConfig(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
	cfg := writeFiles(t, t.TempDir(), map[string]string{"esm.yaml": "environments:\n  prod:\n    max_deletes: 1\n"})
	cfgPath := cfg + "/esm.yaml"
	require.Equal(t, exitOK, w.esm("apply", "--config", cfgPath).code)
	w.write(annotatedIDL([]string{"Ping", "Pong"}, nil))
	r := w.esm("apply", "--config", cfgPath)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "2 deletions, more than the limit of 1")
}
