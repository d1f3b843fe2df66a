package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		{"0s", 0, "--max-comment-age (ESM_MAX_COMMENT_AGE) \"0s\": want a positive duration"},
		{"soon", 0, "--max-comment-age (ESM_MAX_COMMENT_AGE) \"soon\": want a positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			vars := map[string]string{
				envWebhookSecret: e2eSecret, envAllowedRepos: "runatlantis/*", envGitHubToken: "ghp_test",
				envMaxCommentAge: tt.value,
			}
			f := botFlags{stateDir: t.TempDir(), requireApproval: "false"}
			bc, err := f.config(nil, func(k string) string { return vars[k] }, "")
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
