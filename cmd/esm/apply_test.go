package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/datadog"
	"github.com/esm-dev/esm/internal/datadog/ddtest"
	"github.com/esm-dev/esm/internal/idl"
	"github.com/esm-dev/esm/internal/localstore"
	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/reconcile"
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
	assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, r.stdout))
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

// A failed change is reported with the others, which are applied, and
// fails the run.
func TestApplyReportsFailures(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
	dd := useDatadog(t)
	// Datadog refuses one create; 400s are not retried.
	dd.FailNextOn(http.MethodPost, "/api/v1/monitor", 1, http.StatusBadRequest, nil)

	r := w.esm("apply")
	assert.Equal(t, exitFailure, r.code)
	assert.Regexp(t, `(?m)^failed to create monitor "Traffic Anomaly with P[io]ng": .*400`, r.stdout)
	assert.Regexp(t, `(?m)^created monitor \d+ "Traffic Anomaly with P[io]ng"$`, r.stdout)
	assert.Contains(t, r.stdout, "Apply complete: 1 created, 0 updated, 0 deleted, 1 failed.\n")
	assert.Len(t, dd.Monitors(), 1)

	r = w.esm("apply")
	assert.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "Apply complete: 1 created, 0 updated, 0 deleted, 0 failed.\n", "the next run completes the work")
}

// useDatadog starts a fake Datadog and points esm at it through
// DD_API_KEY, DD_APP_KEY and ESM_DATADOG_URL.
func useDatadog(t *testing.T, opts ...ddtest.Option) *ddtest.Server {
	t.Helper()
	dd := ddtest.NewServer(t, append([]ddtest.Option{ddtest.WithKeys("api-key", "app-key")}, opts...)...)
	t.Setenv(envAPIKey, "api-key")
	t.Setenv(envAppKey, "app-key")
	t.Setenv(envDatadogURL, dd.URL)
	return dd
}

// With both Datadog keys set, plan and apply go to Datadog
// (ESM_DATADOG_URL), and the monitors there come back unchanged.
func TestApplyToDatadog(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
	dd := useDatadog(t)
	unmanaged := dd.Seed(ddtest.Monitor{Name: "Traffic Anomaly with Ping", Type: "query alert", Query: "avg(last_5m):sum:x{*} > 1"})

	r := w.esm("apply")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "using Datadog at "+dd.URL+"\n", r.stderr)
	assert.Contains(t, r.stdout, "Apply complete: 2 created, 0 updated, 0 deleted, 0 failed.\n")
	assert.NoDirExists(t, w.stateDir, "the local store is not used")

	var names []string
	for _, m := range dd.Monitors() {
		names = append(names, m.Name)
		if m.ID != unmanaged[0] {
			assert.Contains(t, m.Tags, "esm-prod")
		}
	}
	assert.ElementsMatch(t, []string{"Traffic Anomaly with Ping", "Traffic Anomaly with Ping", "Traffic Anomaly with Pong"}, names,
		"the unmanaged monitor of the same name is left alone")

	r = w.esm("plan", "--detailed-exitcode")
	assert.Equal(t, exitOK, r.code, "what Datadog stored plans no change: %s%s", r.stdout, r.stderr)
	assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, r.stdout))

	// A rate-limited list is retried, as the store does.
	dd.FailNextOn(http.MethodGet, "/api/v1/monitor", 1, http.StatusTooManyRequests, ddtest.RateLimit{Limit: 10, Period: 10, Remaining: 0, Reset: 0}.Header())
	r = w.esm("plan", "--detailed-exitcode")
	assert.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
}

// concurrentApplyRecords are the annotated records of the concurrency
// tests: every apply plans one create per record.
var concurrentApplyRecords = []string{"Alpha", "Beta", "Gamma", "Delta", "Epsilon"}

// applyConcurrently runs n "esm apply --yes" at once, in-process (each
// opens its own store, as separate processes do), and returns their
// results.
func applyConcurrently(w *workspace, n int) []result {
	start := make(chan struct{})
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = w.esm("apply", "--yes")
		}()
	}
	close(start)
	wg.Wait()
	return results
}

// duplicates returns how many monitors share a name with an older one.
func duplicates(names []string) int {
	seen := map[string]bool{}
	n := 0
	for _, name := range names {
		if seen[name] {
			n++
		}
		seen[name] = true
	}
	return n
}

// TestConcurrentApplyLeavesNoDuplicate runs N applies at once on an empty
// store, local and Datadog, and checks that exactly one monitor per name
// remains and that a plan then has nothing to do. It logs the duplicates
// left, the figure of issue 9 item 4:
//
//	go test ./cmd/esm -run TestConcurrentApplyLeavesNoDuplicate -v -count=1
func TestConcurrentApplyLeavesNoDuplicate(t *testing.T) {
	for _, store := range []string{"local", "datadog"} {
		for _, n := range []int{3, 5, 8} {
			t.Run(fmt.Sprintf("%s/%d", store, n), func(t *testing.T) {
				w := newWorkspace(t, annotatedIDL(concurrentApplyRecords, all(concurrentApplyRecords...)))
				var names func() []string
				switch store {
				case "local":
					names = w.stateNames
				case "datadog":
					// Latency makes every run list before any creates, as
					// runs started together against Datadog do.
					dd := useDatadog(t, ddtest.WithLatency(20*time.Millisecond))
					names = func() []string {
						var out []string
						for _, m := range dd.Monitors() {
							out = append(out, m.Name)
						}
						return out
					}
				}
				for i, r := range applyConcurrently(w, n) {
					assert.Equal(t, exitOK, r.code, "apply %d: %s%s", i, r.stdout, r.stderr)
				}
				got := names()
				dups := duplicates(got)
				t.Logf("%s store, %d concurrent applies: %d monitors, %d duplicates left", store, n, len(got), dups)
				assert.Zero(t, dups, "duplicates: %v", got)
				assert.ElementsMatch(t, []string{"Traffic Anomaly with Alpha", "Traffic Anomaly with Beta", "Traffic Anomaly with Delta",
					"Traffic Anomaly with Epsilon", "Traffic Anomaly with Gamma"}, dedupeNames(got))

				r := w.esm("plan", "--detailed-exitcode")
				assert.Equal(t, exitOK, r.code, "a plan after the applies has nothing to do: %s%s", r.stdout, r.stderr)
				assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, r.stdout))
			})
		}
	}
}

// stateNames returns the names of the monitors in the state file, by ID.
func (w *workspace) stateNames() []string {
	w.t.Helper()
	var st struct {
		Monitors []struct{ Name string } `json:"monitors"`
	}
	require.NoError(w.t, json.Unmarshal([]byte(w.state()), &st))
	var out []string
	for _, m := range st.Monitors {
		out = append(out, m.Name)
	}
	return out
}

func dedupeNames(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// Duplicates left by earlier concurrent runs are healed by the next
// apply, even under max_deletes 1: deleting newer copies of monitors that
// are kept is not a deletion for the mass-delete guard, and the plan says
// so.
func TestApplyHealsDuplicatesPastTheGuard(t *testing.T) {
	for _, store := range []string{"local", "datadog"} {
		t.Run(store, func(t *testing.T) {
			records := []string{"Ping", "Pong"}
			w := newWorkspace(t, annotatedIDL(records, all(records...)))
			cfg := writeFiles(t, t.TempDir(), map[string]string{"esm.yaml": "environments:\n  prod:\n    max_deletes: 1\n"}) + "/esm.yaml"
			var count func() int
			var duplicate func() // adds a newer copy of every monitor
			if store == "datadog" {
				dd := useDatadog(t)
				count = func() int { return len(dd.Monitors()) }
				duplicate = func() {
					for _, m := range dd.Monitors() {
						m.ID = 0
						dd.Seed(m)
					}
				}
			} else {
				count = func() int { return strings.Count(w.state(), `"name":`) }
				duplicate = func() {
					s, err := localstore.Open(w.statePath())
					require.NoError(t, err)
					ms, err := s.List(context.Background(), "esm-prod")
					require.NoError(t, err)
					for _, m := range ms {
						_, err := s.Create(context.Background(), &m)
						require.NoError(t, err)
					}
				}
			}
			require.Equal(t, exitOK, w.esm("apply").code)
			// Runs that did not take turns (the old esm) left copies of
			// every monitor: four of each.
			duplicate()
			duplicate()
			require.Equal(t, 8, count())

			r := w.esm("plan", "--config", cfg)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stdout, "Plan: 0 to create, 0 to update, 6 to delete (6 healing duplicates), 2 unchanged.")
			assert.Contains(t, r.stdout, "will be deleted: duplicate of monitor")
			assert.Contains(t, r.stdout, "(healing: not counted by the mass-delete guard)")

			r = w.esm("apply", "--config", cfg)
			require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			assert.Contains(t, r.stdout, "Apply complete: 0 created, 0 updated, 6 deleted, 0 failed.")
			assert.Equal(t, 2, count())
		})
	}
}

// esmProcessEnv makes the test binary run esm's command line (the
// arguments after "--") instead of the tests: TestRunAsESM.
const esmProcessEnv = "ESM_TEST_RUN_AS_ESM"

// TestRunAsESM is not a test: run by TestConcurrentApplyProcesses in a
// child process, it is esm.
func TestRunAsESM(t *testing.T) {
	if os.Getenv(esmProcessEnv) != "1" {
		t.Skip("runs only as a child process of TestConcurrentApplyProcesses")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// Separate esm processes on one state directory take turns too (the lock
// is the directory's flock, which processes share).
func TestConcurrentApplyProcesses(t *testing.T) {
	w := newWorkspace(t, annotatedIDL(concurrentApplyRecords, all(concurrentApplyRecords...)))
	const n = 4
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRunAsESM$", "--", "apply", "--env", "prod", "--yes", "--state-dir", w.stateDir, w.schemas)
		cmd.Env = append(os.Environ(), esmProcessEnv+"=1")
		outs[i] = &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		require.NoError(t, cmd.Start())
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		assert.NoError(t, cmd.Wait(), "process %d: %s", i, outs[i])
	}
	names := w.stateNames()
	t.Logf("local store, %d concurrent esm processes: %d monitors, %d duplicates left", n, len(names), duplicates(names))
	assert.Zero(t, duplicates(names), "duplicates: %v", names)
	r := w.esm("plan", "--detailed-exitcode")
	assert.Equal(t, exitOK, r.code, "%s%s", r.stdout, r.stderr)
}

// signalWriter collects what is written and closes said once a write
// contains text.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	text string
	said chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.text) {
		w.once.Do(func() { close(w.said) })
	}
	return len(p), nil
}

// An apply that finds the local store locked by another run says so,
// waits, and plans against what that run did.
func TestApplyWaitsForTheLock(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	other, err := localstore.Open(w.statePath())
	require.NoError(t, err)
	unlock, err := other.Lock(context.Background())
	require.NoError(t, err)

	stderr := &signalWriter{text: "waiting for another esm run to finish with the state store", said: make(chan struct{})}
	var stdout bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"apply", "--env", "prod", "--yes", "--state-dir", w.stateDir, w.schemas}, &stdout, stderr)
	}()
	select {
	case <-stderr.said:
	case c := <-code:
		t.Fatalf("apply did not wait for the lock: exit %d\n%s", c, stdout.String())
	case <-time.After(30 * time.Second): // a safety net, not a measure
		t.Fatal("apply never said it waits")
	}
	// The other run creates the monitor meanwhile.
	r := w.esm("plan", "--output", "json")
	require.Equal(t, exitOK, r.code, "plan takes no lock: %s", r.stderr)
	ctx := context.Background()
	specs, _, err := reconcile.Specs(ctx, config.Default(), "prod", []string{w.schemas}, idl.Options{})
	require.NoError(t, err)
	desired, err := reconcile.Render("prod", specs, datadog.Render)
	require.NoError(t, err)
	current, err := other.List(ctx, monitor.EnvTag("prod"))
	require.NoError(t, err)
	_, err = monitor.Apply(ctx, other, monitor.Diff("prod", desired, current, monitor.Scope{}), monitor.ApplyOptions{})
	require.NoError(t, err)
	unlock()

	require.Equal(t, exitOK, <-code, "stdout: %s\nstderr: %s", stdout.String(), stderr.buf.String())
	assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, stdout.String()), "it planned after the other run")
	assert.Len(t, w.stateNames(), 1)
}

// Keys Datadog refuses are one clear line: which keys to check, the
// operation named once.
func TestPlanWithRefusedKeys(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	useDatadog(t)
	t.Setenv(envAppKey, "not-the-app-key")
	r := w.esm("plan")
	require.Equal(t, exitFailure, r.code, "stdout: %s", r.stdout)
	assert.Equal(t, 1, strings.Count(r.stderr, "list monitors"), r.stderr)
	assert.Contains(t, r.stderr, "datadog: 403 Forbidden: check DD_API_KEY and DD_APP_KEY")
	assert.NotContains(t, r.stderr, "Forbidden: Forbidden")
	assert.NotContains(t, r.stderr, "not-the-app-key", "keys are never printed")
}

// esm apply --output json prints one JSON object with the plan and a
// result per change, and needs --yes.
func TestApplyOutputJSON(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
	r := w.esm("apply", "--output", "json")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "--output json needs --yes")
	assert.Empty(t, r.stdout)

	r = w.esm("apply", "--output", "json", "--yes")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr, "nothing but JSON, on stdout")
	var out struct {
		Plan struct {
			Summary map[string]int `json:"summary"`
		} `json:"plan"`
		Applied bool `json:"applied"`
		Results []struct {
			Action, Name, Result string
			ID                   int64
		} `json:"results"`
		Summary map[string]int `json:"summary"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	assert.True(t, out.Applied)
	assert.Equal(t, 2, out.Plan.Summary["create"])
	require.Len(t, out.Results, 2)
	for _, res := range out.Results {
		assert.Equal(t, "create", res.Action)
		assert.Equal(t, "created", res.Result)
		assert.Positive(t, res.ID)
	}
	assert.Equal(t, map[string]int{"created": 2, "updated": 0, "deleted": 0, "failed": 0}, out.Summary)

	// The guard's refusal is in the JSON, with the plan, and the status.
	w.write(annotatedIDL([]string{"Ping", "Pong"}, nil))
	cfg := writeFiles(t, t.TempDir(), map[string]string{"limit.yaml": "environments:\n  prod:\n    max_deletes: 1\n"})
	r = w.esm("apply", "--output", "json", "--yes", "--config", filepath.Join(cfg, "limit.yaml"))
	assert.Equal(t, exitFailure, r.code)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	assert.False(t, out.Applied)
	assert.Contains(t, r.stdout, `"error": "plan deletes too many monitors: 2 deletions, more than the limit of 1`)
	assert.Equal(t, 2, out.Plan.Summary["delete"])
}
