package webhook

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/github/ghtest"
)

// TestRecordedPayloads runs payloads recorded from GitHub (and from
// Atlantis' test data) through the receiver, when the recordings are
// beside the repository: the events the bot acts on are handed off with
// the fields it reads, the others are answered and ignored. They are
// required under CI=true; the same cases run on the repository's own
// payloads in TestHandedOffEvents and TestIgnoredEvents.
func TestRecordedPayloads(t *testing.T) {
	if ghtest.RecordedDir(t) == "" {
		t.Skip("the recorded GitHub payloads (shared/fixtures/github beside the repository) are absent")
	}
	tests := []struct {
		event, file string
		handedOff   bool
	}{
		{"issue_comment", "webhooks/atlantis-testdata/githubIssueCommentEvent.json", true},
		{"pull_request", "webhooks/pull_request/opened.payload.json", true},
		{"pull_request", "webhooks/pull_request/synchronize.payload.json", true},
		{"pull_request", "webhooks/pull_request/reopened.payload.json", true},
		{"pull_request", "webhooks/atlantis-testdata/githubPullRequestOpenedEvent.json", true},
		{"ping", "webhooks/ping/payload.json", false},
		{"ping", "webhooks/ping/with-app_id.payload.json", false},
		{"installation", "webhooks/installation/created.payload.json", false},
		{"issue_comment", "webhooks/issue_comment/created.payload.json", false},
		{"issue_comment", "webhooks/issue_comment/edited.payload.json", false},
		{"issue_comment", "webhooks/issue_comment/deleted.payload.json", false},
		{"pull_request", "webhooks/pull_request/closed.payload.json", false},
		{"pull_request", "webhooks/pull_request/ready_for_review.with-installation.payload.json", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, ok := ghtest.Recorded(t, tt.file)
			require.True(t, ok)
			h := newRecorder()
			// The receiver's clock reads a recorded comment as just made.
			var p struct {
				Comment struct {
					CreatedAt time.Time `json:"created_at"`
				} `json:"comment"`
			}
			_ = json.Unmarshal(body, &p)
			now := p.Comment.CreatedAt.Add(30 * time.Second)
			r := newReceiver(t, h, func(c *Config) { c.Now = func() time.Time { return now } })
			w := deliver(t, r, tt.event, "d", body, Sign(secret, body))
			if !tt.handedOff {
				assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
				time.Sleep(10 * time.Millisecond)
				assert.Zero(t, h.calls())
				return
			}
			assert.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
			h.waitCalls(t, 1)
			h.mu.Lock()
			defer h.mu.Unlock()
			if tt.event == "issue_comment" {
				require.Len(t, h.comments, 1)
				c := h.comments[0]
				assert.NotEmpty(t, c.GetRepo().GetFullName())
				assert.NotZero(t, c.GetIssue().GetNumber())
				assert.NotZero(t, c.GetComment().GetID())
				assert.NotEmpty(t, c.GetComment().GetUser().GetLogin())
			} else {
				require.Len(t, h.prs, 1)
				assert.NotEmpty(t, h.prs[0].GetPullRequest().GetHead().GetSHA())
				assert.NotZero(t, h.prs[0].GetNumber())
			}
		})
	}
}
