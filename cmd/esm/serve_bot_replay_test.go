package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/webhook"
)

// lockedBuffer is a bytes.Buffer safe for the bot's workers and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// drain shuts the bot down, which waits for every queued run: after it,
// whatever the deliveries asked for is done.
func (w *botWorld) drain() {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(w.t, w.bot.shutdown(ctx))
}

// withCreatedAt returns the comment payload with created_at replaced.
func withCreatedAt(t *testing.T, body []byte, created time.Time) []byte {
	t.Helper()
	var p map[string]any
	require.NoError(t, json.Unmarshal(body, &p))
	p["comment"].(map[string]any)["created_at"] = created.UTC().Format(time.RFC3339)
	out, err := json.Marshal(p)
	require.NoError(t, err)
	return out
}

// A captured register comment sent again under a new X-GitHub-Delivery
// after a push must not apply the new head.
func TestBotReplayedRegisterCommentRunsOnce(t *testing.T) {
	tests := []struct {
		name    string
		replays int
	}{
		{"one replay", 1},
		{"many replays", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newBotWorld(t, nil)
			w.gh.SetPermission(e2eRepo, "alice", "write")
			schemas := exampleSchemas(t)
			w.push(nil, schemas)
			id := w.gh.AddComment(e2eRepo, e2eNumber, "alice", "esm prod register")
			captured := commentPayload(t, id, "alice", "esm prod register")
			require.Equal(t, http.StatusAccepted, w.deliver("issue_comment", captured, e2eSecret))
			require.Equal(t, "rocket", w.waitReaction(id))
			require.Len(t, w.dd.Monitors(), 4)

			// A push removes an annotation: a replay would delete its monitor.
			head := maps(schemas)
			head["schemas/cart.avdl"] = strings.Replace(schemas["schemas/cart.avdl"], `@traffic_anomaly_monitor({"deviations": 4})`, "", 1)
			newHead := w.push(schemas, head)
			for range tt.replays {
				assert.Equal(t, http.StatusOK, w.deliver("issue_comment", captured, e2eSecret), "the replay is not queued")
			}
			w.drain()
			assert.Len(t, w.dd.Monitors(), 4, "nothing applied at the new head")
			assert.Empty(t, w.gh.Statuses(e2eRepo, newHead), "no run at the new head")
			assert.Contains(t, w.logs.String(), "comment already handled")
		})
	}
}

func TestBotIgnoresAnOldComment(t *testing.T) {
	tests := []struct {
		name   string
		age    time.Duration
		env    map[string]string
		status int
	}{
		{"ten minutes old", 10 * time.Minute, nil, http.StatusOK},
		{"older than ESM_MAX_COMMENT_AGE", 2 * time.Minute, map[string]string{envMaxCommentAge: "1m"}, http.StatusOK},
		{"within ESM_MAX_COMMENT_AGE", 10 * time.Minute, map[string]string{envMaxCommentAge: "1h"}, http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newBotWorld(t, tt.env)
			w.gh.SetPermission(e2eRepo, "alice", "write")
			sha := w.push(nil, exampleSchemas(t))
			id := w.gh.AddComment(e2eRepo, e2eNumber, "alice", "esm prod register")
			body := withCreatedAt(t, commentPayload(t, id, "alice", "esm prod register"), time.Now().Add(-tt.age))
			assert.Equal(t, tt.status, w.deliver("issue_comment", body, e2eSecret))
			w.drain()
			if tt.status == http.StatusAccepted {
				assert.Len(t, w.dd.Monitors(), 4)
				return
			}
			assert.Empty(t, w.dd.Monitors())
			assert.Empty(t, w.gh.Statuses(e2eRepo, sha))
			assert.Empty(t, w.gh.Reactions(e2eRepo, id))
			assert.Empty(t, w.botBodies())
			assert.Contains(t, w.logs.String(), "before it arrived, more than the")
		})
	}
}

func TestBotMaxCommentAgeSetting(t *testing.T) {
	tests := []struct {
		value string
		want  time.Duration
		err   string
	}{
		{"", 5 * time.Minute, ""},
		{"90s", 90 * time.Second, ""},
		{"0s", 0, `--max-comment-age / ESM_MAX_COMMENT_AGE: "0s" is not a positive duration`},
		{"soon", 0, `--max-comment-age / ESM_MAX_COMMENT_AGE: "soon" is not a positive duration`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			vars := map[string]string{
				envWebhookSecret: e2eSecret, envAllowedRepos: "runatlantis/*", envGitHubToken: "ghp_test",
				envMaxCommentAge: tt.value,
			}
			bc, err := testBotConfig(map[string]string{"state-dir": t.TempDir()}, vars)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, bc.maxCommentAge)
		})
	}
}

// A run cut short by the shutdown still leaves a final status and says
// so in its comment.
func TestBotShutdownMidRunLeavesAFinalState(t *testing.T) {
	entered := make(chan struct{}, 100)
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-r.Context().Done() // Datadog hangs until the caller gives up
	}))
	t.Cleanup(stuck.Close)
	w := newBotWorld(t, map[string]string{envDatadogURL: stuck.URL})
	w.gh.SetPermission(e2eRepo, "alice", "write")
	sha := w.push(nil, exampleSchemas(t))
	id := w.command("alice", "esm prod register")
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the run never called Datadog")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, w.bot.shutdown(ctx), context.DeadlineExceeded, "the run was cut short")

	states := w.gh.Statuses(e2eRepo, sha)
	require.NotEmpty(t, states)
	last := states[len(states)-1]
	assert.Equal(t, "error", last.State, "not left pending")
	assert.Contains(t, last.Description, "interrupted")
	bodies := w.botBodies()
	require.Len(t, bodies, 1)
	assert.Contains(t, bodies[0], "the run was interrupted (esm is shutting down): nothing more was applied; comment `esm prod register` again")
	assert.Contains(t, w.gh.Reactions(e2eRepo, id), "confused")
}

func TestBotRepositoryNotAllowedGetsNoComment(t *testing.T) {
	w := newBotWorld(t, map[string]string{envAllowedRepos: "someone-else/*"})
	w.gh.SetPermission(e2eRepo, "alice", "admin")
	sha := w.push(nil, exampleSchemas(t))
	id := w.command("alice", "esm prod register")
	w.command("alice", "esm help")
	w.drain()
	assert.Empty(t, w.botBodies())
	assert.Empty(t, w.gh.Reactions(e2eRepo, id))
	assert.Empty(t, w.gh.Statuses(e2eRepo, sha))
	assert.Empty(t, w.dd.Requests(), "Datadog is not called")
	assert.Contains(t, w.logs.String(), "repository not allowed")
}

// gatedDatadog forwards to the fake Datadog once release is closed.
type gatedDatadog struct {
	target  string // the fake's URL, set before the first request
	entered chan struct{}
	release chan struct{}
}

func (g *gatedDatadog) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.release:
	case <-r.Context().Done():
		return
	}
	u, err := url.Parse(g.target)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	httputil.NewSingleHostReverseProxy(u).ServeHTTP(rw, r)
}

func TestBotCommandsWaitingForARunShareOneComment(t *testing.T) {
	gate := &gatedDatadog{entered: make(chan struct{}, 1), release: make(chan struct{})}
	proxy := httptest.NewServer(gate)
	t.Cleanup(proxy.Close)
	w := newBotWorld(t, map[string]string{envDatadogURL: proxy.URL})
	gate.target = w.dd.URL
	w.gh.SetPermission(e2eRepo, "alice", "write")
	w.push(nil, exampleSchemas(t))
	w.command("alice", "esm prod register")
	<-gate.entered
	// The 80 deliveries: the other workers take commands that
	// wait, the rest queue up, beyond the queue they get 503.
	accepted := 1
	for range 80 {
		id := w.gh.AddComment(e2eRepo, e2eNumber, "alice", "esm prod plan")
		if w.deliver("issue_comment", commentPayload(t, id, "alice", "esm prod plan"), e2eSecret) == http.StatusAccepted {
			accepted++
		}
	}
	// The waiting comments: marked ones, and the unmarked replies of
	// older versions, so that the count is comparable.
	waiting := func() []string {
		var out []string
		for _, b := range w.botBodies() {
			if strings.HasPrefix(b, "<!-- esm:prod:waiting -->") || strings.Contains(b, "esm is waiting for the run in progress") {
				out = append(out, b)
			}
		}
		return out
	}
	require.Eventually(t, func() bool {
		return strings.Count(w.logs.String(), `"msg":"waiting for the run in progress"`) >= webhook.DefaultWorkers-1
	}, 20*time.Second, time.Millisecond, "every worker but the running one waits")
	assert.Eventually(t, func() bool {
		return len(waiting()) == 1 && strings.Contains(waiting()[0], fmt.Sprintf("%d commands wait", webhook.DefaultWorkers-1))
	}, 20*time.Second, time.Millisecond, "one waiting comment counts the waiting commands")
	close(gate.release)
	w.drain()
	waited := strings.Count(w.logs.String(), `"msg":"waiting for the run in progress"`)
	t.Logf("80 deliveries: %d accepted, %d commands waited, %d waiting comments", accepted, waited, len(waiting()))
	assert.GreaterOrEqual(t, accepted, 1+webhook.DefaultQueue)
	require.Len(t, waiting(), 1, "one waiting comment for %d waiting commands", waited)
	assert.Contains(t, waiting()[0], "No command waits")
	assert.Len(t, w.botBodies(), 3, "the register result, the plan result and the waiting comment")
}
