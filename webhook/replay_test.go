package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordedAt is just after the comment of prComment's payload
// (testdata/github/issue_comment.pull_request.created.json) was created:
// the receivers of these tests read it on their clock, as if GitHub had
// just delivered it.
var recordedAt = time.Date(2026, 12, 1, 10, 5, 30, 0, time.UTC)

// commentAt returns prComment's payload with the comment's id and
// created_at replaced; a zero created is left out.
func commentAt(t testing.TB, id int64, created time.Time) []byte {
	t.Helper()
	var p map[string]any
	require.NoError(t, json.Unmarshal(prComment(t), &p))
	c := p["comment"].(map[string]any)
	c["id"] = id
	delete(c, "created_at")
	if !created.IsZero() {
		c["created_at"] = created.Format(time.RFC3339)
	}
	out, err := json.Marshal(p)
	require.NoError(t, err)
	return out
}

func TestReplayedCommentIsHandedOffOnce(t *testing.T) {
	now := recordedAt
	tests := []struct {
		name string
		// the deliveries: delivery id and comment id, in order
		ids      [][2]any
		statuses []int
		calls    int
	}{
		{"same comment, new delivery id", [][2]any{{"d1", int64(1)}, {"d2", int64(1)}}, []int{http.StatusAccepted, http.StatusOK}, 1},
		{"many replays", [][2]any{{"d1", int64(1)}, {"d2", int64(1)}, {"d3", int64(1)}, {"d4", int64(1)}}, []int{http.StatusAccepted, http.StatusOK, http.StatusOK, http.StatusOK}, 1},
		{"same comment, same delivery id", [][2]any{{"d1", int64(1)}, {"d1", int64(1)}}, []int{http.StatusAccepted, http.StatusOK}, 1},
		{"two comments", [][2]any{{"d1", int64(1)}, {"d2", int64(2)}}, []int{http.StatusAccepted, http.StatusAccepted}, 2},
		{"no delivery id", [][2]any{{"", int64(1)}, {"", int64(1)}}, []int{http.StatusAccepted, http.StatusOK}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newRecorder()
			var logs bytes.Buffer
			r := newReceiver(t, h, func(c *Config) { c.Now = func() time.Time { return now }; c.Logger = slogJSON(&logs) })
			for i, d := range tt.ids {
				body := commentAt(t, d[1].(int64), recordedAt.Add(-time.Minute))
				w := deliver(t, r, "issue_comment", d[0].(string), body, Sign(secret, body))
				assert.Equal(t, tt.statuses[i], w.Code, "delivery %d: %s", i, w.Body.String())
			}
			h.waitCalls(t, tt.calls)
			assert.Equal(t, tt.calls, h.calls())
			if tt.calls < len(tt.ids) {
				assert.Contains(t, logs.String(), "webhook ignored")
			}
		})
	}
}

func TestReplayAfterTheDedupTTLIsTooOld(t *testing.T) {
	// Even once the comment id is forgotten, the comment is too old.
	now := recordedAt
	h := newRecorder()
	r := newReceiver(t, h, func(c *Config) { c.Now = func() time.Time { return now }; c.DedupTTL = time.Minute })
	body := commentAt(t, 1, recordedAt)
	assert.Equal(t, http.StatusAccepted, deliver(t, r, "issue_comment", "d1", body, Sign(secret, body)).Code)
	h.waitCalls(t, 1)
	for _, later := range []time.Duration{2 * time.Minute, 6 * time.Minute, 25 * time.Hour} {
		now = recordedAt.Add(later)
		w := deliver(t, r, "issue_comment", "d-"+later.String(), body, Sign(secret, body))
		assert.Equal(t, http.StatusOK, w.Code, later)
	}
	assert.Equal(t, 1, h.calls())
}

func TestCommentRefusedWhenQueueFullIsHandledOnRedelivery(t *testing.T) {
	h := newRecorder()
	h.block = make(chan struct{})
	r := newReceiver(t, h, func(c *Config) { c.Workers, c.Queue = 1, 1 })
	first, second, third := commentAt(t, 1, recordedAt), commentAt(t, 2, recordedAt), commentAt(t, 3, recordedAt)
	assert.Equal(t, http.StatusAccepted, deliver(t, r, "issue_comment", "d1", first, Sign(secret, first)).Code)
	require.Eventually(t, func() bool { return len(r.queue) == 0 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, http.StatusAccepted, deliver(t, r, "issue_comment", "d2", second, Sign(secret, second)).Code)
	assert.Equal(t, http.StatusServiceUnavailable, deliver(t, r, "issue_comment", "d3", third, Sign(secret, third)).Code)
	close(h.block)
	h.waitCalls(t, 2)
	assert.Equal(t, http.StatusAccepted, deliver(t, r, "issue_comment", "d3", third, Sign(secret, third)).Code, "the refused comment was not remembered")
	h.waitCalls(t, 1)
}

func TestOldCommentIsNotActedUpon(t *testing.T) {
	tests := []struct {
		name    string
		created time.Time
		maxAge  time.Duration
		status  int
		log     string
	}{
		{"ten minutes old", recordedAt.Add(-10 * time.Minute), 0, http.StatusOK, "comment created 10m0s before it arrived, more than the 5m0s allowed"},
		{"years old", recordedAt.AddDate(-3, 0, 0), 0, http.StatusOK, "comment created 26304h0m0s before it arrived"},
		{"older than a shorter limit", recordedAt.Add(-2 * time.Minute), time.Minute, http.StatusOK, "comment created 2m0s before it arrived, more than the 1m0s allowed"},
		{"no created_at", time.Time{}, 0, http.StatusOK, "comment without created_at"},
		{"four minutes old", recordedAt.Add(-4 * time.Minute), 0, http.StatusAccepted, ""},
		{"a little ahead of the clock", recordedAt.Add(30 * time.Second), 0, http.StatusAccepted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newRecorder()
			var logs bytes.Buffer
			r := newReceiver(t, h, func(c *Config) {
				c.Now = func() time.Time { return recordedAt }
				c.MaxCommentAge = tt.maxAge
				c.Logger = slogJSON(&logs)
			})
			body := commentAt(t, 1, tt.created)
			w := deliver(t, r, "issue_comment", "d", body, Sign(secret, body))
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			if tt.status == http.StatusAccepted {
				h.waitCalls(t, 1)
				return
			}
			assert.Contains(t, w.Body.String(), "ignored")
			assert.Contains(t, logs.String(), `"msg":"webhook ignored: `+tt.log)
			assert.Contains(t, logs.String(), `"comment":1`)
			// A refused comment is not remembered: nothing to replay.
			assert.Zero(t, h.calls())
		})
	}
}
