package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/forge"
	"github.com/esm-dev/esm/internal/github"
	"github.com/esm-dev/esm/internal/github/ghtest"
	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/reconcile"
	"github.com/esm-dev/esm/internal/report"
)

// writes returns the requests that changed something on GitHub.
func writes(srv *ghtest.Server) []ghtest.Request {
	var out []ghtest.Request
	for _, r := range srv.Requests() {
		if r.Method != http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

func TestRepositoryNotAllowedGetsNoComment(t *testing.T) {
	for _, body := range []string{"esm prod register", "esm prod plan", "esm help", "esm qa plan", "esm prod destroy"} {
		t.Run(body, func(t *testing.T) {
			h := newHarness(t, func(r *reconcile.Runner) { r.Allowed, _ = reconcile.ParseAllowList("other/*") })
			var outcomes []string
			h.runner.OnRun = func(_, _, outcome string, _ time.Duration) { outcomes = append(outcomes, outcome) }
			sha := h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Alpha")})
			h.srv.SetPermission(repoName, "alice", "admin")
			id := h.comment("alice", body)
			assert.Empty(t, h.bot(), "no comment in a repository that is not allowed")
			assert.Empty(t, writes(h.srv), "nothing written on GitHub")
			assert.Empty(t, h.srv.Reactions(repoName, id))
			assert.Empty(t, h.srv.Statuses(repoName, sha))
			assert.Empty(t, h.monitors("prod"))
			assert.Contains(t, h.logs.String(), "repository not allowed")
			assert.Equal(t, []string{"denied"}, outcomes)
		})
	}
}

func TestDraftPullRequest(t *testing.T) {
	tests := []struct {
		body     string
		monitors int
		reply    string
	}{
		{"esm prod register", 0, "does not run on a draft pull request.** Mark the pull request ready for review"},
		{"esm prod register --allow-mass-delete", 0, "Mark the pull request ready for review"},
		{"esm prod plan", 0, "**Plan:** 1 to create"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			h := newHarness(t, nil)
			h.srv.SetPermission(repoName, "alice", "write")
			sha := h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Alpha")})
			h.srv.SetPullRequest(repoName, ghtest.PullRequest{Number: prNumber, BaseSHA: "base", HeadSHA: sha, Draft: true})
			h.comment("alice", tt.body)
			bot := h.bot()
			require.Len(t, bot, 1)
			assert.Contains(t, bot[0], tt.reply)
			assert.Len(t, h.monitors("prod"), tt.monitors)
			if strings.Contains(tt.body, "register") {
				assert.Empty(t, h.srv.Statuses(repoName, sha), "a refused register sets no status")
			}
		})
	}
	t.Run("ready for review", func(t *testing.T) {
		h := newHarness(t, nil)
		h.srv.SetPermission(repoName, "alice", "write")
		sha := h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Alpha")})
		h.srv.SetPullRequest(repoName, ghtest.PullRequest{Number: prNumber, BaseSHA: "base", HeadSHA: sha, Draft: true})
		h.comment("alice", "esm prod register")
		h.srv.SetPullRequest(repoName, ghtest.PullRequest{Number: prNumber, BaseSHA: "base", HeadSHA: sha})
		h.comment("alice", "esm prod register")
		assert.Len(t, h.monitors("prod"), 1)
	})
}

// gateStores makes the runner's stores block their first List until the
// gate returned opens; each call installs a new gate.
func (h *harness) gateStores() gatedStore {
	gate := gatedStore{once: &sync.Once{}, entered: make(chan struct{}), open: make(chan struct{})}
	h.runner.Backends = backends(func(env string) (monitor.Store, error) {
		s, err := h.store(env)
		g := gate
		g.Store = s
		return g, err
	})
	return gate
}

// blockedRegister starts alice's register of a protocol of records, with
// write permission, and returns once it is blocked in the store's List:
// wg waits for it, gate.open lets it go on.
func (h *harness) blockedRegister(records ...string) (*sync.WaitGroup, gatedStore) {
	gate := h.gateStores()
	h.srv.SetPermission(repoName, "alice", "write")
	h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", records...)})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); h.comment("alice", "esm prod register") }()
	<-gate.entered
	return &wg, gate
}

// waitingComments returns the bot's "waiting" comments.
func waitingComments(h *harness) []string {
	var out []string
	for _, b := range h.bot() {
		if _, kind, _, ok := report.ParseMarker(b); ok && kind == report.KindWaiting {
			out = append(out, b)
		}
	}
	return out
}

func TestCommandsWaitingForARunShareOneComment(t *testing.T) {
	for _, waiters := range []int{1, 3, 20} {
		t.Run(fmt.Sprint(waiters), func(t *testing.T) {
			h := newHarness(t, nil)
			wg, gate := h.blockedRegister("Alpha", "Beta")
			for i := range waiters {
				wg.Add(1)
				cmd := "esm prod plan"
				if i%2 == 0 {
					cmd = "esm prod register"
				}
				go func() { defer wg.Done(); h.comment("alice", cmd) }()
			}
			want := fmt.Sprintf("%d commands wait", waiters)
			if waiters == 1 {
				want = "1 command waits"
			}
			require.Eventually(t, func() bool {
				w := waitingComments(h)
				return len(w) == 1 && strings.Contains(w[0], want)
			}, 10*time.Second, time.Millisecond, "one waiting comment counting every waiting command")
			assert.Len(t, waitingComments(h), 1)
			close(gate.open)
			wg.Wait()
			w := waitingComments(h)
			require.Len(t, w, 1, "one waiting comment, edited, never one per command")
			assert.Contains(t, w[0], "No command waits for a run on `prod` any more")
			assert.ElementsMatch(t, []string{"Traffic Anomaly with Alpha", "Traffic Anomaly with Beta"}, h.monitors("prod"))

			// The next wait on this pull request reuses the comment.
			gate2 := h.gateStores()
			wg.Add(2)
			go func() { defer wg.Done(); h.comment("alice", "esm prod plan") }()
			<-gate2.entered
			go func() { defer wg.Done(); h.comment("alice", "esm prod plan") }()
			require.Eventually(t, func() bool {
				w := waitingComments(h)
				return len(w) == 1 && strings.Contains(w[0], "1 command waits")
			}, 10*time.Second, time.Millisecond)
			close(gate2.open)
			wg.Wait()
			assert.Len(t, waitingComments(h), 1)
		})
	}
}

// stallingStore blocks in List or Create until the run's context ends.
type stallingStore struct {
	monitor.Store
	stall   string // "List" or "Create"
	once    *sync.Once
	entered chan struct{}
}

func (s stallingStore) block(ctx context.Context, method string) error {
	if s.stall != method {
		return nil
	}
	s.once.Do(func() { close(s.entered) })
	<-ctx.Done()
	return ctx.Err()
}

func (s stallingStore) List(ctx context.Context, tag string) ([]monitor.Monitor, error) {
	if err := s.block(ctx, "List"); err != nil {
		return nil, err
	}
	return s.Store.List(ctx, tag)
}

func (s stallingStore) Create(ctx context.Context, m *monitor.Monitor) (int64, error) {
	if err := s.block(ctx, "Create"); err != nil {
		return 0, err
	}
	return s.Store.Create(ctx, m)
}

// stallingGitHub blocks in ListPullRequestFiles until the run's context
// ends.
type stallingGitHub struct {
	*github.Client
	once    *sync.Once
	entered chan struct{}
}

func (s stallingGitHub) ListPullRequestFiles(ctx context.Context, repo forge.Repo, number int) ([]forge.ChangedFile, error) {
	s.once.Do(func() { close(s.entered) })
	<-ctx.Done()
	return nil, ctx.Err()
}

var errShuttingDown = errors.New("esm is shutting down")

func TestRunCutShortLeavesAFinalState(t *testing.T) {
	tests := []struct {
		name  string
		cmd   string
		stall string // the store's method, or "GitHub"
	}{
		{"register, store list blocked", "esm prod register", "List"},
		{"register, store create blocked", "esm prod register", "Create"},
		{"register, GitHub blocked", "esm prod register", "GitHub"},
		{"plan, store list blocked", "esm prod plan", "List"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			entered := make(chan struct{})
			once := &sync.Once{}
			if tt.stall == "GitHub" {
				h.runner.GitHub = stallingGitHub{Client: h.gh, once: once, entered: entered}
			} else {
				h.runner.Backends = backends(func(env string) (monitor.Store, error) {
					s, err := h.store(env)
					return stallingStore{Store: s, stall: tt.stall, once: once, entered: entered}, err
				})
			}
			var outcomes []string
			h.runner.OnRun = func(_, _, outcome string, _ time.Duration) { outcomes = append(outcomes, outcome) }
			h.srv.SetPermission(repoName, "alice", "write")
			sha := h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Alpha")})
			id := h.srv.AddComment(repoName, prNumber, "alice", tt.cmd)

			ctx, cancel := context.WithCancelCause(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				h.runner.HandleComment(ctx, reconcile.CommentEvent{
					Delivery: "d1", Repo: shop, RepoURL: "https://github.com/acme/shop",
					Number: prNumber, CommentID: id, Body: tt.cmd, Author: "alice", AuthorType: "User",
				})
			}()
			<-entered
			cancel(errShuttingDown)
			<-done

			states := h.states(sha)
			require.NotEmpty(t, states)
			assert.Equal(t, "pending", states[0])
			assert.Equal(t, "error", states[len(states)-1], "the status is final, not pending")
			last := h.srv.Statuses(repoName, sha)[len(states)-1]
			assert.Contains(t, last.Description, "interrupted")
			bot := h.bot()
			require.Len(t, bot, 1)
			assert.Contains(t, bot[0], "the run was interrupted (esm is shutting down)")
			assert.Contains(t, bot[0], "comment `"+tt.cmd+"` again")
			assert.Equal(t, []string{"eyes", "confused"}, h.srv.Reactions(repoName, id))
			assert.Equal(t, []string{"error"}, outcomes)
			assert.Empty(t, h.monitors("prod"))
		})
	}
}

func TestCommandWaitingWhenCutShortIsAnswered(t *testing.T) {
	h := newHarness(t, nil)
	wg, gate := h.blockedRegister("Alpha")

	ctx, cancel := context.WithCancelCause(context.Background())
	id := h.srv.AddComment(repoName, prNumber, "alice", "esm prod plan")
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.runner.HandleComment(ctx, reconcile.CommentEvent{
			Delivery: "d2", Repo: shop, Number: prNumber, CommentID: id, Body: "esm prod plan", Author: "alice", AuthorType: "User",
		})
	}()
	require.Eventually(t, func() bool { return len(waitingComments(h)) == 1 }, 10*time.Second, time.Millisecond)
	cancel(errShuttingDown)
	<-done
	assert.Equal(t, []string{"eyes", "confused"}, h.srv.Reactions(repoName, id))
	assert.Contains(t, waitingComments(h)[0], "No command waits", "the waiting comment is not left saying a command waits")
	close(gate.open)
	wg.Wait()
}

func TestCommandQueuedAtShutdownIsNotRunAndSaysSo(t *testing.T) {
	for _, body := range []string{"esm prod register", "esm prod plan", "esm help"} {
		t.Run(body, func(t *testing.T) {
			h := newHarness(t, nil)
			h.srv.SetPermission(repoName, "alice", "write")
			sha := h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Alpha")})
			id := h.srv.AddComment(repoName, prNumber, "alice", body)
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(errShuttingDown)
			h.runner.HandleComment(ctx, reconcile.CommentEvent{
				Delivery: "d1", Repo: shop, Number: prNumber, CommentID: id, Body: body, Author: "alice", AuthorType: "User",
			})
			assert.Equal(t, []string{"confused"}, h.srv.Reactions(repoName, id))
			assert.Empty(t, h.bot(), "quiet: no comment per queued command")
			assert.Empty(t, h.srv.Statuses(repoName, sha))
			assert.Empty(t, h.monitors("prod"))
			assert.Contains(t, h.logs.String(), `"msg":"command not run"`)
			assert.Contains(t, h.logs.String(), `"cause":"esm is shutting down"`)
		})
	}
}

func TestCommentHandledBeforeARestartIsNotRunAgain(t *testing.T) {
	tests := []struct {
		name string
		// mark prepares the comment the second runner is handed
		mark func(h *harness, id int64)
		runs bool
	}{
		{"handled by the bot before", func(*harness, int64) {}, false},
		{"only a person's eyes on it", func(h *harness, id int64) {
			h.srv.AddReaction(repoName, id, "bob", "eyes")
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.srv.SetPermission(repoName, "alice", "write")
			schemas := map[string]string{"schemas/a.avdl": protocol("A", "Alpha")}
			h.push(nil, schemas)
			ev := reconcile.CommentEvent{Delivery: "d1", Repo: shop, Number: prNumber, Body: "esm prod register", Author: "alice", AuthorType: "User"}
			if tt.runs {
				// A comment the bot never saw: only a person reacted.
				ev.CommentID = h.srv.AddComment(repoName, prNumber, "alice", ev.Body)
			} else {
				ev.CommentID = h.comment("alice", ev.Body)
				require.Equal(t, []string{"eyes", "rocket"}, h.srv.Reactions(repoName, ev.CommentID))
			}
			tt.mark(h, ev.CommentID)
			// A push removes the annotation: running the comment again
			// would delete the monitor.
			newHead := h.push(schemas, map[string]string{"schemas/a.avdl": protocol("A", "plainAlpha")})
			if !tt.runs {
				require.Len(t, h.monitors("prod"), 1)
			}

			// esm restarted: a new runner, nothing in memory.
			again := newHarness(t, nil).runner
			again.GitHub, again.Backends, again.Logger = h.runner.GitHub, h.runner.Backends, h.runner.Logger
			ev.Delivery = "d2"
			again.HandleComment(context.Background(), ev)
			if tt.runs {
				assert.Equal(t, []string{"pending", "success"}, h.states(newHead))
				return
			}
			assert.Empty(t, h.srv.Statuses(repoName, newHead), "not run again")
			assert.Len(t, h.monitors("prod"), 1, "the monitor is kept")
			assert.Contains(t, h.logs.String(), "comment ignored: esm reacted to it already")
		})
	}
}
