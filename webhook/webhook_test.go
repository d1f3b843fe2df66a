package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/github/ghtest"
)

var secret = []byte("It's a Secret to Everybody")

// prComment is a comment on a pull request, in the shape GitHub sends.
func prComment(t testing.TB) []byte {
	return ghtest.Payload(t, "issue_comment.pull_request.created.json")
}

// recorder is a Handler that records what it is handed.
type recorder struct {
	mu       sync.Mutex
	comments []*github.IssueCommentEvent
	prs      []*github.PullRequestEvent
	ids      []string
	block    chan struct{} // when set, every call waits for it to close
	called   chan struct{}
}

func newRecorder() *recorder { return &recorder{called: make(chan struct{}, 100)} }

func (h *recorder) IssueComment(ctx context.Context, d Delivery, e *github.IssueCommentEvent) {
	h.record(ctx, d, func() { h.comments = append(h.comments, e) })
}

func (h *recorder) PullRequest(ctx context.Context, d Delivery, e *github.PullRequestEvent) {
	h.record(ctx, d, func() { h.prs = append(h.prs, e) })
}

// record waits for block, then keeps the event with add.
func (h *recorder) record(ctx context.Context, d Delivery, add func()) {
	h.wait(ctx)
	h.mu.Lock()
	add()
	h.ids = append(h.ids, d.ID)
	h.mu.Unlock()
	h.called <- struct{}{}
}

func (h *recorder) wait(ctx context.Context) {
	if h.block != nil {
		select {
		case <-h.block:
		case <-ctx.Done():
		}
	}
}

func (h *recorder) calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.comments) + len(h.prs)
}

// waitCalls waits for n handler calls.
func (h *recorder) waitCalls(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-h.called:
		case <-time.After(5 * time.Second):
			t.Fatalf("handler called %d times, want %d", h.calls(), n)
		}
	}
}

func newReceiver(t *testing.T, h Handler, mod func(*Config)) *Receiver {
	t.Helper()
	cfg := Config{Secret: secret, Handler: h, Now: func() time.Time { return recordedAt }}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	return r
}

// deliver posts body as a delivery of event, signed with sig ("" for no
// signature header), and returns the response.
func deliver(t *testing.T, h http.Handler, event, id string, body []byte, sig string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	if id != "" {
		req.Header.Set("X-GitHub-Delivery", id)
	}
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestSignature(t *testing.T) {
	body := prComment(t)
	tests := []struct {
		name   string
		sig    string
		status int
		calls  int
	}{
		{"ok", Sign(secret, body), http.StatusAccepted, 1},
		{"wrong secret", Sign([]byte("guess"), body), http.StatusUnauthorized, 0},
		{"missing", "", http.StatusUnauthorized, 0},
		{"sha1 only", "sha1=" + strings.Repeat("0", 40), http.StatusUnauthorized, 0},
		{"not hex", "sha256=zz", http.StatusUnauthorized, 0},
		{"signature of another body", Sign(secret, append([]byte(" "), body...)), http.StatusUnauthorized, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newRecorder()
			var logs bytes.Buffer
			r := newReceiver(t, h, func(c *Config) { c.Logger = slogJSON(&logs) })
			w := deliver(t, r, "issue_comment", "d-"+tt.name, body, tt.sig)
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			h.waitCalls(t, tt.calls)
			assert.Equal(t, tt.calls, h.calls())
			assert.NotContains(t, logs.String(), string(secret), "the secret is never logged")
			if tt.status == http.StatusUnauthorized {
				assert.Contains(t, logs.String(), "webhook refused")
			}
		})
	}
}

func TestBadSignatureDoesNotMarkTheDelivery(t *testing.T) {
	body := prComment(t)
	h := newRecorder()
	r := newReceiver(t, h, nil)
	assert.Equal(t, http.StatusUnauthorized, deliver(t, r, "issue_comment", "d1", body, Sign([]byte("x"), body)).Code)
	assert.Equal(t, http.StatusAccepted, deliver(t, r, "issue_comment", "d1", body, Sign(secret, body)).Code)
	h.waitCalls(t, 1)
}

func TestDuplicateDelivery(t *testing.T) {
	body := prComment(t)
	h := newRecorder()
	r := newReceiver(t, h, nil)
	sig := Sign(secret, body)
	assert.Equal(t, http.StatusAccepted, deliver(t, r, "issue_comment", "72d3162e", body, sig).Code)
	w := deliver(t, r, "issue_comment", "72d3162e", body, sig)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), "duplicate")
	// The same comment under another delivery id is a replay.
	w = deliver(t, r, "issue_comment", "another", body, sig)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), "comment already handled")
	h.waitCalls(t, 1)
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, 1, h.calls())
}

func TestDeliveriesAreForgottenAfterTTLAndBeyondSize(t *testing.T) {
	now := time.Unix(0, 0)
	d := newDeliveries(2, time.Minute, func() time.Time { return now })
	assert.True(t, d.reserve("a"))
	assert.False(t, d.reserve("a"))
	assert.True(t, d.reserve("b"))
	assert.True(t, d.reserve("c"), "evicts a")
	assert.True(t, d.reserve("a"))
	now = now.Add(2 * time.Minute)
	assert.True(t, d.reserve("c"), "expired")
	d.release("c")
	assert.True(t, d.reserve("c"))
}

func TestIgnoredEvents(t *testing.T) {
	comment := prComment(t)
	tests := []struct {
		name   string
		event  string
		body   []byte
		status int
	}{
		{"ping", "ping", ghtest.Payload(t, "ping.json"), http.StatusOK},
		{"app ping", "ping", ghtest.Payload(t, "ping.app.json"), http.StatusOK},
		{"unknown event", "installation", ghtest.Payload(t, "installation.created.json"), http.StatusOK},
		{"event not decoded", "star", []byte(`{"action":"created"}`), http.StatusOK},
		{"comment on an issue", "issue_comment", ghtest.Payload(t, "issue_comment.issue.created.json"), http.StatusOK},
		{"edited comment", "issue_comment", ghtest.Payload(t, "issue_comment.issue.edited.json"), http.StatusOK},
		{"deleted comment", "issue_comment", ghtest.Payload(t, "issue_comment.issue.deleted.json"), http.StatusOK},
		{"closed pull request", "pull_request", ghtest.Payload(t, "pull_request.closed.json"), http.StatusOK},
		{"ready for review", "pull_request", ghtest.Payload(t, "pull_request.ready_for_review.json"), http.StatusOK},
		{"bad JSON", "issue_comment", []byte(`{`), http.StatusOK},
		{"edited comment on a pull request", "issue_comment", setJSON(t, comment, "action", "edited"), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newRecorder()
			r := newReceiver(t, h, nil)
			w := deliver(t, r, tt.event, "d", tt.body, Sign(secret, tt.body))
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			time.Sleep(10 * time.Millisecond)
			assert.Zero(t, h.calls())
		})
	}
}

func TestHandedOffEvents(t *testing.T) {
	tests := []struct {
		event, file string
	}{
		{"issue_comment", "issue_comment.pull_request.created.json"},
		{"pull_request", "pull_request.opened.json"},
		{"pull_request", "pull_request.synchronize.json"},
		{"pull_request", "pull_request.reopened.json"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h := newRecorder()
			r := newReceiver(t, h, nil)
			body := ghtest.Payload(t, tt.file)
			w := deliver(t, r, tt.event, "d", body, Sign(secret, body))
			assert.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
			h.waitCalls(t, 1)
			h.mu.Lock()
			defer h.mu.Unlock()
			if tt.event == "issue_comment" {
				require.Len(t, h.comments, 1)
				assert.Equal(t, "esm-dev/schemas", h.comments[0].GetRepo().GetFullName())
			} else {
				require.Len(t, h.prs, 1)
				assert.NotEmpty(t, h.prs[0].GetPullRequest().GetHead().GetSHA())
			}
			assert.Equal(t, []string{"d"}, h.ids)
		})
	}
}

func TestFormEncodedPayload(t *testing.T) {
	h := newRecorder()
	r := newReceiver(t, h, nil)
	body := []byte("payload=" + url.QueryEscape(string(prComment(t))))
	req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-GitHub-Event", "issue_comment")
	req.Header.Set("X-Hub-Signature-256", Sign(secret, body))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	assert.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	h.waitCalls(t, 1)
}

func TestAnswersBeforeTheWorkIsDone(t *testing.T) {
	h := newRecorder()
	h.block = make(chan struct{})
	r := newReceiver(t, h, nil)
	body := prComment(t)
	start := time.Now()
	w := deliver(t, r, "issue_comment", "d", body, Sign(secret, body))
	assert.Equal(t, http.StatusAccepted, w.Code)
	assert.Less(t, time.Since(start), time.Second)
	assert.Zero(t, h.calls(), "the handler is still waiting")
	close(h.block)
	h.waitCalls(t, 1)
}

func TestQueueFull(t *testing.T) {
	h := newRecorder()
	h.block = make(chan struct{})
	r := newReceiver(t, h, func(c *Config) { c.Workers, c.Queue = 1, 1 })
	first, second, body := commentAt(t, 1, recordedAt), commentAt(t, 2, recordedAt), commentAt(t, 3, recordedAt)
	sig := Sign(secret, body)
	// One delivery runs, one waits, the third finds the queue full.
	assert.Equal(t, http.StatusAccepted, deliver(t, r, "issue_comment", "d1", first, Sign(secret, first)).Code)
	require.Eventually(t, func() bool { return len(r.queue) == 0 }, time.Second, time.Millisecond)
	assert.Equal(t, http.StatusAccepted, deliver(t, r, "issue_comment", "d2", second, Sign(secret, second)).Code)
	assert.Equal(t, http.StatusServiceUnavailable, deliver(t, r, "issue_comment", "d3", body, sig).Code)
	close(h.block)
	h.waitCalls(t, 2)
	// The refused delivery was not remembered: its redelivery is handled.
	assert.Equal(t, http.StatusAccepted, deliver(t, r, "issue_comment", "d3", body, sig).Code)
	h.waitCalls(t, 1)
}

func TestBodyTooLarge(t *testing.T) {
	h := newRecorder()
	r := newReceiver(t, h, func(c *Config) { c.MaxBodyBytes = 100 })
	body := prComment(t)
	w := deliver(t, r, "issue_comment", "d", body, Sign(secret, body))
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	assert.Zero(t, h.calls())
}

func TestHealthzAndShutdown(t *testing.T) {
	h := newRecorder()
	h.block = make(chan struct{})
	r, err := New(Config{Secret: secret, Handler: h, Now: func() time.Time { return recordedAt }})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, w.Code)

	body := prComment(t)
	assert.Equal(t, http.StatusAccepted, deliver(t, r, "issue_comment", "d", body, Sign(secret, body)).Code)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, r.Shutdown(ctx), context.DeadlineExceeded, "the blocked handler's context is cancelled")

	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	another := commentAt(t, 2, recordedAt)
	assert.Equal(t, http.StatusServiceUnavailable, deliver(t, r, "issue_comment", "d2", another, Sign(secret, another)).Code)
	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/webhook", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
}

func TestNewRequiresSecretAndHandler(t *testing.T) {
	_, err := New(Config{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "secret is required")
	assert.Contains(t, err.Error(), "handler is required")
}

// setJSON returns the JSON document b with its top-level key set to v.
func setJSON(t testing.TB, b []byte, key string, v any) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	m[key] = v
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

func slogJSON(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(&lockedWriter{w: w}, nil))
}

// lockedWriter serialises writes from the workers and the test.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
