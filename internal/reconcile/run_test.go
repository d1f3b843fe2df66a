package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esm-dev/esm/internal/datadog"
	"github.com/esm-dev/esm/internal/datadog/ddtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/forge"
	"github.com/esm-dev/esm/internal/github"
	"github.com/esm-dev/esm/internal/github/ghtest"
	"github.com/esm-dev/esm/internal/idl"
	"github.com/esm-dev/esm/internal/localstore"
	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/reconcile"
)

const (
	repoName = "acme/shop"
	prNumber = 7
)

var shop = forge.Repo{Owner: "acme", Name: "shop"}

// protocol returns an .avdl protocol whose records each carry a traffic
// anomaly monitor, unless their name starts with "plain".
func protocol(name string, records ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "@namespace(\"com.acme\")\nprotocol %s {\n", name)
	for _, r := range records {
		if !strings.HasPrefix(r, "plain") {
			b.WriteString("  @alert_channel(\"team-a\")\n  @traffic_anomaly_monitor({\"deviations\": 3})\n")
		}
		fmt.Fprintf(&b, "  record %s { string id; }\n", strings.TrimPrefix(r, "plain"))
	}
	b.WriteString("}\n")
	return b.String()
}

// harness is a Runner against ghtest and local stores.
type harness struct {
	t      *testing.T
	srv    *ghtest.Server
	gh     *github.Client
	runner *reconcile.Runner
	dir    string
	logs   *syncBuffer
	head   int // the number of the last head commit
}

func newHarness(t *testing.T, mod func(*reconcile.Runner)) *harness {
	t.Helper()
	srv := ghtest.NewServer(t)
	gh, err := github.New(github.Config{Token: "t", BaseURL: srv.URL, RetryWait: time.Millisecond})
	require.NoError(t, err)
	allowed, err := reconcile.ParseAllowList(repoName)
	require.NoError(t, err)
	h := &harness{t: t, srv: srv, gh: gh, dir: t.TempDir(), logs: &syncBuffer{}}
	h.runner = &reconcile.Runner{
		GitHub:   gh,
		Backends: backends(h.store),
		Config:   config.Default(),
		Allowed:  allowed,
		Logger:   slog.New(reconcile.LogHandler(slog.NewJSONHandler(h.logs, nil))),
	}
	if mod != nil {
		mod(h.runner)
	}
	return h
}

func (h *harness) store(env string) (monitor.Store, error) {
	return localstore.Open(filepath.Join(h.dir, env+".json"))
}

// monitors returns the names of the monitors stored for env.
func (h *harness) monitors(env string) []string {
	h.t.Helper()
	s, err := h.store(env)
	require.NoError(h.t, err)
	ms, err := s.List(context.Background(), monitor.EnvTag(env))
	require.NoError(h.t, err)
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	return names
}

// push makes the pull request go from base to a new head commit.
func (h *harness) push(base, head map[string]string) string {
	h.head++
	headSHA := fmt.Sprintf("head%d", h.head)
	h.srv.SetFiles(repoName, "base", base)
	h.srv.SetFiles(repoName, headSHA, head)
	h.srv.SetPullRequest(repoName, ghtest.PullRequest{Number: prNumber, BaseSHA: "base", HeadSHA: headSHA})
	return headSHA
}

// comment posts a comment by user and runs the bot on it.
func (h *harness) comment(user, body string) int64 {
	id := h.srv.AddComment(repoName, prNumber, user, body)
	h.runner.HandleComment(context.Background(), reconcile.CommentEvent{
		Delivery: fmt.Sprintf("delivery-%d", id), Repo: shop, RepoURL: "https://github.com/acme/shop",
		Number: prNumber, CommentID: id, Body: body, Author: user, AuthorType: "User",
	})
	return id
}

// bot returns the bodies of the bot's comments.
func (h *harness) bot() []string {
	var out []string
	for _, c := range h.srv.BotComments(repoName, prNumber) {
		out = append(out, c.Body)
	}
	return out
}

func (h *harness) states(sha string) []string {
	var out []string
	for _, s := range h.srv.Statuses(repoName, sha) {
		assert.Equal(h.t, "esm/prod", s.Context)
		out = append(out, s.State)
	}
	return out
}

func TestParseCommand(t *testing.T) {
	envs := []string{"prod", "staging"}
	tests := []struct {
		body      string
		cmd       reconcile.Command
		addressed bool
		problem   string
	}{
		{"esm prod plan", reconcile.Command{Kind: "plan", Env: "prod"}, true, ""},
		{"  esm staging register  \nplease", reconcile.Command{Kind: "register", Env: "staging"}, true, ""},
		{"esm prod register --allow-mass-delete", reconcile.Command{Kind: "register", Env: "prod", AllowMassDelete: true}, true, ""},
		{"esm help", reconcile.Command{Kind: "help"}, true, ""},
		{"esm", reconcile.Command{}, true, "missing command"},
		{"esm plan", reconcile.Command{}, true, "missing environment: write `esm <env> plan`"},
		{"esm qa plan", reconcile.Command{}, true, `unknown environment "qa"`},
		{"esm prod", reconcile.Command{}, true, "missing command after `esm prod`"},
		{"esm prod apply", reconcile.Command{}, true, `unknown command "apply"`},
		{"esm prod plan --allow-mass-delete", reconcile.Command{}, true, `unknown argument "--allow-mass-delete"`},
		{"LGTM, esm prod plan", reconcile.Command{}, false, ""},
		{"thanks\nesm prod plan", reconcile.Command{}, false, ""},
		{"esmeralda", reconcile.Command{}, false, ""},
		{"", reconcile.Command{}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			cmd, addressed, problem := reconcile.ParseCommand(tt.body, envs)
			assert.Equal(t, tt.cmd, cmd)
			assert.Equal(t, tt.addressed, addressed)
			assert.Equal(t, tt.problem, problem)
		})
	}
}

func TestParseAllowList(t *testing.T) {
	a, err := reconcile.ParseAllowList(" acme/shop, Octo-Org/* ,")
	require.NoError(t, err)
	for repo, want := range map[forge.Repo]bool{
		{Owner: "acme", Name: "shop"}:    true,
		{Owner: "ACME", Name: "Shop"}:    true,
		{Owner: "acme", Name: "other"}:   false,
		{Owner: "octo-org", Name: "any"}: true,
		{Owner: "evil", Name: "shop"}:    false,
	} {
		assert.Equal(t, want, a.Allows(repo), repo.String())
	}
	for _, bad := range []string{"", " , ", "acme", "acme/shop/x", "*/*", "a b/c"} {
		_, err := reconcile.ParseAllowList(bad)
		assert.Error(t, err, bad)
	}
}

func TestApproved(t *testing.T) {
	r := func(a, s string) forge.Review { return forge.Review{Author: a, State: s} }
	assert.False(t, reconcile.Approved(nil))
	assert.True(t, reconcile.Approved([]forge.Review{r("bob", "APPROVED"), r("bob", "COMMENTED")}))
	assert.False(t, reconcile.Approved([]forge.Review{r("bob", "APPROVED"), r("eve", "CHANGES_REQUESTED")}))
	assert.True(t, reconcile.Approved([]forge.Review{r("eve", "CHANGES_REQUESTED"), r("eve", "APPROVED")}))
	assert.False(t, reconcile.Approved([]forge.Review{r("bob", "APPROVED"), r("bob", "DISMISSED")}))
}

func TestPlanShowsTheDiffAndChangesNothing(t *testing.T) {
	h := newHarness(t, nil)
	sha := h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Alpha", "Beta"), "README.md": "x"})
	id := h.comment("alice", "esm prod plan")

	bot := h.bot()
	require.Len(t, bot, 1)
	assert.True(t, strings.HasPrefix(bot[0], "<!-- esm:prod:plan -->\n"))
	assert.Contains(t, bot[0], "**Plan:** 2 to create, 0 to update, 0 to delete, 0 unchanged.")
	assert.Contains(t, bot[0], "```diff\n+ name = \"Traffic Anomaly with Alpha\"")
	assert.Contains(t, bot[0], "https://github.com/acme/shop/blob/"+sha+"/schemas/a.avdl#L4")
	assert.Contains(t, bot[0], "To apply this plan, comment `esm prod register`.")
	assert.Equal(t, []string{"pending", "success"}, h.states(sha))
	assert.Equal(t, []string{"eyes", "rocket"}, h.srv.Reactions(repoName, id))
	assert.Empty(t, h.monitors("prod"), "plan changes nothing")
}

func TestRegisterThenNoChangesEditedInPlace(t *testing.T) {
	h := newHarness(t, nil)
	sha := h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Alpha", "Beta")})
	h.srv.SetPermission(repoName, "alice", "write")
	id := h.comment("alice", "esm prod register")
	assert.ElementsMatch(t, []string{"Traffic Anomaly with Alpha", "Traffic Anomaly with Beta"}, h.monitors("prod"))
	bot := h.bot()
	require.Len(t, bot, 1)
	assert.Contains(t, bot[0], "**Apply complete:** 2 created, 0 updated, 0 deleted, 0 failed.")
	assert.Equal(t, []string{"eyes", "rocket"}, h.srv.Reactions(repoName, id))
	assert.Equal(t, []string{"pending", "success"}, h.states(sha))

	h.comment("alice", "esm prod register")
	bot = h.bot()
	require.Len(t, bot, 1, "the result comment is edited in place")
	assert.Contains(t, bot[0], "**No changes.**")
	assert.Len(t, h.monitors("prod"), 2)

	// A plan has its own comment.
	h.comment("alice", "esm prod plan")
	assert.Len(t, h.bot(), 2)
}

func TestChangeSetScope(t *testing.T) {
	h := newHarness(t, nil)
	h.srv.SetPermission(repoName, "alice", "admin")
	base := map[string]string{
		"schemas/a.avdl":    protocol("A", "Alpha", "Beta"),
		"schemas/b.avdl":    protocol("B", "Gamma"),
		"schemas/gone.avdl": protocol("G", "Gone"),
		"schemas/old.avdl":  protocol("O", "Moved"),
	}
	h.push(nil, base)
	h.comment("alice", "esm prod register")
	require.Len(t, h.monitors("prod"), 5)

	// Beta loses its annotation, gone.avdl is removed, old.avdl renamed:
	// b.avdl is untouched, so Gamma's monitor is left alone even though
	// this pull request does not declare it.
	head := map[string]string{
		"schemas/a.avdl":   protocol("A", "Alpha", "plainBeta"),
		"schemas/b.avdl":   base["schemas/b.avdl"],
		"schemas/new.avdl": protocol("O", "Moved"),
	}
	h.srv.SetFiles(repoName, "base2", base)
	h.srv.SetFiles(repoName, "head2", head)
	h.srv.SetPullRequest(repoName, ghtest.PullRequest{Number: prNumber, BaseSHA: "base2", HeadSHA: "head2", Files: []ghtest.File{
		{Filename: "schemas/a.avdl", Status: "modified"},
		{Filename: "schemas/gone.avdl", Status: "removed"},
		{Filename: "schemas/new.avdl", PreviousFilename: "schemas/old.avdl", Status: "renamed"},
	}})
	h.comment("alice", "esm prod register")
	assert.ElementsMatch(t, []string{"Traffic Anomaly with Alpha", "Traffic Anomaly with Gamma", "Traffic Anomaly with Moved"}, h.monitors("prod"))
	body := h.bot()[0]
	assert.Contains(t, body, "**Apply complete:** 0 created, 1 updated, 2 deleted, 0 failed.")
	assert.Contains(t, body, "-     \"esm_file:schemas/old.avdl\",\n+     \"esm_file:schemas/new.avdl\",", "the renamed file's monitor follows it")
}

func TestImportsAreFetchedAtTheSameSHA(t *testing.T) {
	h := newHarness(t, nil)
	common := "@namespace(\"com.acme\")\nprotocol Common {\n  record Shared { string id; }\n}\n"
	main := "@namespace(\"com.acme\")\nprotocol Main {\n  import idl \"../common/common.avdl\";\n" +
		"  @traffic_anomaly_monitor({})\n  record UsesShared { Shared s; }\n}\n"
	sha := h.push(nil, map[string]string{"common/common.avdl": common, "schemas/main.avdl": main})
	h.srv.SetPullRequest(repoName, ghtest.PullRequest{Number: prNumber, BaseSHA: "base", HeadSHA: sha,
		Files: []ghtest.File{{Filename: "schemas/main.avdl", Status: "added"}}})
	h.comment("alice", "esm prod plan")
	body := h.bot()[0]
	assert.Contains(t, body, "**Plan:** 1 to create", body)
	assert.NotContains(t, body, "Traffic Anomaly with Shared", "imported records are not in the change set")

	// An import that leaves the repository is not found.
	sha = h.push(nil, map[string]string{"schemas/main.avdl": strings.Replace(main, "../common/common.avdl", "../../etc/passwd", 1)})
	h.comment("alice", "esm prod plan")
	body = h.bot()[0]
	assert.Contains(t, body, "file not found")
	assert.Equal(t, "failure", h.srv.Statuses(repoName, sha)[1].State)
}

func TestSchemaErrorsAreListedAndNothingIsApplied(t *testing.T) {
	h := newHarness(t, nil)
	h.srv.SetPermission(repoName, "alice", "write")
	bad := "@namespace(\"com.acme\")\nprotocol A {\n  @traffic_anomaly_monitor({\"deviation\": 3})\n  record Alpha { string id; }\n" +
		"  @traffic_anomaly_monitor({})\n  record Beta { strin id; }\n}\n"
	sha := h.push(nil, map[string]string{"schemas/a.avdl": bad, "schemas/b.avdl": protocol("B", "Gamma")})
	id := h.comment("alice", "esm prod register")
	assert.Empty(t, h.monitors("prod"))
	body := h.bot()[0]
	assert.Contains(t, body, "in the schemas: nothing was applied.**")
	assert.Contains(t, body, "(https://github.com/acme/shop/blob/"+sha+"/schemas/a.avdl#L6)")
	assert.NotContains(t, body, "**Plan:**")
	assert.Equal(t, []string{"pending", "failure"}, h.states(sha))
	assert.Equal(t, []string{"eyes", "confused"}, h.srv.Reactions(repoName, id))
}

func TestDenials(t *testing.T) {
	// A repository not allowed: TestRepositoryNotAllowedGetsNoComment.
	t.Run("read permission cannot register", func(t *testing.T) {
		h := newHarness(t, nil)
		sha := h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Alpha")})
		h.comment("mallory", "esm prod register")
		require.Len(t, h.bot(), 1)
		assert.Contains(t, h.bot()[0], "@\u200bmallory has read permission on acme/shop; `register` needs write or admin")
		assert.Empty(t, h.monitors("prod"))
		assert.Empty(t, h.srv.Statuses(repoName, sha))
		// ... but may plan.
		h.comment("mallory", "esm prod plan")
		assert.Contains(t, h.bot()[1], "**Plan:** 1 to create")
	})
	t.Run("approval required", func(t *testing.T) {
		h := newHarness(t, func(r *reconcile.Runner) { r.RequireApproval = true })
		h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Alpha")})
		h.srv.SetPermission(repoName, "alice", "write")
		h.comment("alice", "esm prod register")
		assert.Contains(t, h.bot()[0], "must be approved")
		assert.Empty(t, h.monitors("prod"))
		h.srv.AddReview(repoName, prNumber, "bob", "APPROVED")
		h.comment("alice", "esm prod register")
		assert.Len(t, h.monitors("prod"), 1)
	})
}

func TestUsageAndIgnoredComments(t *testing.T) {
	h := newHarness(t, nil)
	h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Alpha")})
	h.comment("alice", "esm qa plan")
	require.Len(t, h.bot(), 1)
	assert.Contains(t, h.bot()[0], `unknown environment "qa"`)
	assert.Contains(t, h.bot()[0], "| `esm staging plan` |")
	h.comment("alice", "esm help")
	assert.Len(t, h.bot(), 2)

	h.comment("alice", "looks good to me")
	h.runner.HandleComment(context.Background(), reconcile.CommentEvent{Repo: shop, Number: prNumber, Body: "esm prod plan", Author: "dependabot[bot]", AuthorType: "Bot"})
	h.runner.HandleComment(context.Background(), reconcile.CommentEvent{Repo: shop, Number: prNumber, Body: "esm prod plan", Author: ghtest.BotLogin, AuthorType: "User"})
	assert.Len(t, h.bot(), 2, "no answer to comments not for the bot, nor to bots")
}

func TestClosedPullRequest(t *testing.T) {
	h := newHarness(t, nil)
	h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Alpha")})
	h.srv.SetPullRequest(repoName, ghtest.PullRequest{Number: prNumber, BaseSHA: "base", HeadSHA: "head1", State: "closed"})
	id := h.comment("alice", "esm prod plan")
	assert.Contains(t, h.bot()[0], "esm runs only on open pull requests")
	assert.Equal(t, []string{"eyes", "confused"}, h.srv.Reactions(repoName, id))
}

// movingHead moves the head of the pull request once the run has read it
// and lists its files, before the plan: a push during the run.
type movingHead struct {
	*github.Client
	srv *ghtest.Server
}

func (m *movingHead) ListPullRequestFiles(ctx context.Context, repo forge.Repo, number int) ([]forge.ChangedFile, error) {
	files, err := m.Client.ListPullRequestFiles(ctx, repo, number)
	m.srv.SetHead(repoName, prNumber, "pushed")
	return files, err
}

func TestHeadMovedNothingApplied(t *testing.T) {
	h := newHarness(t, nil)
	h.runner.GitHub = &movingHead{Client: h.gh, srv: h.srv}
	tree := map[string]string{"schemas/a.avdl": protocol("A", "Alpha")}
	sha := h.push(nil, tree)
	h.srv.SetFiles(repoName, "pushed", tree)
	h.srv.SetPermission(repoName, "alice", "write")
	h.comment("alice", "esm prod register")
	assert.Empty(t, h.monitors("prod"))
	assert.Contains(t, h.bot()[0], "the head of the pull request moved from head1 to pushed")
	assert.Equal(t, []string{"pending", "failure"}, h.states(sha))
}

func TestMassDeleteGuard(t *testing.T) {
	cfg, err := config.Parse("esm.yaml", []byte("environments:\n  prod:\n    max_deletes: 1\n"))
	require.NoError(t, err)
	h := newHarness(t, func(r *reconcile.Runner) { r.Config = cfg })
	h.srv.SetPermission(repoName, "alice", "write")
	base := map[string]string{"schemas/a.avdl": protocol("A", "Alpha", "Beta", "Gamma")}
	h.push(nil, base)
	h.comment("alice", "esm prod register")
	require.Len(t, h.monitors("prod"), 3)

	h.push(base, map[string]string{"schemas/a.avdl": protocol("A", "Alpha")})
	h.comment("alice", "esm prod register")
	assert.Len(t, h.monitors("prod"), 3)
	assert.Contains(t, h.bot()[0], "plan deletes too many monitors: 2 deletions, more than the limit of 1; nothing was applied, comment `esm prod register --allow-mass-delete` to go ahead")
	h.comment("alice", "esm prod register --allow-mass-delete")
	assert.Len(t, h.monitors("prod"), 1)
}

func TestLongResultsAreSplitAndPartsReused(t *testing.T) {
	h := newHarness(t, func(r *reconcile.Runner) { r.CommentLimit = 6000 })
	var records []string
	for i := range 12 {
		records = append(records, fmt.Sprintf("Event%02d", i))
	}
	h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", records...)})
	h.comment("alice", "esm prod plan")
	first := h.srv.BotComments(repoName, prNumber)
	require.Greater(t, len(first), 2)
	for _, c := range first {
		assert.LessOrEqual(t, len(c.Body), 6000)
	}

	h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Event00")})
	h.comment("alice", "esm prod plan")
	second := h.srv.BotComments(repoName, prNumber)
	require.Len(t, second, len(first), "the parts are edited, not added")
	assert.Contains(t, second[0].Body, "**Plan:** 1 to create")
	assert.Contains(t, second[len(second)-1].Body, "no longer used")
}

// gatedStore blocks its first List until open is closed.
type gatedStore struct {
	monitor.Store
	once    *sync.Once
	entered chan struct{}
	open    chan struct{}
}

func (g gatedStore) List(ctx context.Context, tag string) ([]monitor.Monitor, error) {
	g.once.Do(func() { close(g.entered); <-g.open })
	return g.Store.List(ctx, tag)
}

func TestOneRunAtATimePerRepositoryAndEnvironment(t *testing.T) {
	h := newHarness(t, nil)
	wg, gate := h.blockedRegister("Alpha", "Beta")
	wg.Add(1)
	go func() { defer wg.Done(); h.comment("alice", "esm prod register") }()
	require.Eventually(t, func() bool {
		for _, b := range h.bot() {
			if strings.Contains(b, "waiting for the run in progress on `prod`") {
				return true
			}
		}
		return false
	}, 5*time.Second, 5*time.Millisecond)
	close(gate.open)
	wg.Wait()
	assert.ElementsMatch(t, []string{"Traffic Anomaly with Alpha", "Traffic Anomaly with Beta"}, h.monitors("prod"), "each monitor is created once")
}

func TestAutoPlan(t *testing.T) {
	h := newHarness(t, func(r *reconcile.Runner) { r.AutoPlan = []string{"prod", "staging"} })
	ev := reconcile.PullRequestEvent{Delivery: "d1", Repo: shop, RepoURL: "https://github.com/acme/shop", Number: prNumber, Action: "opened"}
	h.push(nil, map[string]string{"README.md": "docs only"})
	h.runner.HandlePullRequest(context.Background(), ev)
	assert.Empty(t, h.bot(), "no schema changed: no comment")

	h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Alpha")})
	h.runner.HandlePullRequest(context.Background(), ev)
	h.runner.HandlePullRequest(context.Background(), ev)
	bot := h.bot()
	require.Len(t, bot, 2, "one plan comment per environment, updated in place")
	assert.Contains(t, bot[0], "### esm plan (automatic) on `prod`")
	assert.Contains(t, bot[1], "<!-- esm:staging:plan -->")

	// A plan command updates the same comment.
	h.comment("alice", "esm prod plan")
	assert.Len(t, h.bot(), 2)
}

func TestEveryLogLineOfARunCarriesItsAttributes(t *testing.T) {
	h := newHarness(t, nil)
	h.srv.SetPermission(repoName, "alice", "write")
	h.push(nil, map[string]string{"schemas/a.avdl": protocol("A", "Alpha")})
	h.comment("alice", "esm prod register")
	lines := strings.Split(strings.TrimSpace(h.logs.String()), "\n")
	require.NotEmpty(t, lines)
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		for _, k := range []string{"delivery", "repo", "pr", "command", "run"} {
			assert.Contains(t, m, k, l)
		}
		assert.NotContains(t, l, `"t"`, "no token")
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FuzzParseCommand checks that any comment parses without panicking into
// either no command, a problem, or a valid command.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"esm prod plan", "esm help", "esm staging register --allow-mass-delete", "esm", "esm \x00 plan\n", "esm prod\tregister"} {
		f.Add(s)
	}
	envs := []string{"prod", "staging"}
	f.Fuzz(func(t *testing.T, body string) {
		cmd, addressed, problem := reconcile.ParseCommand(body, envs)
		if !addressed || problem != "" {
			assert.Equal(t, reconcile.Command{}, cmd)
			return
		}
		switch cmd.Kind {
		case reconcile.CommandHelp:
		case reconcile.CommandPlan, reconcile.CommandRegister:
			assert.Contains(t, envs, cmd.Env)
		default:
			t.Fatalf("kind %q", cmd.Kind)
		}
	})
}

// Identity is the name and the environment tag: a monitor tagged esm-prod
// whose name a record of the changed files gives, but without esm's
// record tag (made by an older tool, or the tag edited away), is the
// record's monitor. register updates it, gaining esm's tags, rather than
// creating a second one, and deletes it when the record stops asking.
func TestChangeSetScopeByName(t *testing.T) {
	tests := []struct {
		name       string
		base, head string // schemas/a.avdl
		want       []string
		summary    string
	}{
		{
			name: "annotation added: updated, not duplicated",
			base: protocol("A", "plainAlpha"), head: protocol("A", "Alpha"),
			want:    []string{"Traffic Anomaly with Alpha", "Traffic Anomaly with Other"},
			summary: "**Apply complete:** 0 created, 1 updated, 0 deleted, 0 failed.",
		},
		{
			name: "annotation changed: updated, not duplicated",
			base: protocol("A", "Alpha"), head: strings.Replace(protocol("A", "Alpha"), `"deviations": 3`, `"deviations": 4`, 1),
			want:    []string{"Traffic Anomaly with Alpha", "Traffic Anomaly with Other"},
			summary: "**Apply complete:** 0 created, 1 updated, 0 deleted, 0 failed.",
		},
		{
			name: "annotation removed: deleted",
			base: protocol("A", "Alpha"), head: protocol("A", "plainAlpha"),
			want:    []string{"Traffic Anomaly with Other"},
			summary: "**Apply complete:** 0 created, 0 updated, 1 deleted, 0 failed.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.srv.SetPermission(repoName, "alice", "write")
			store, err := h.store("prod")
			require.NoError(t, err)
			ctx := context.Background()
			legacy := func(name string) *monitor.Monitor {
				m := &monitor.Monitor{}
				m.Name, m.Type, m.Query, m.Tags = name, "query alert", "avg(last_5m):sum:legacy{*} > 1", []string{"esm-prod", "team:a"}
				return m
			}
			id, err := store.Create(ctx, legacy("Traffic Anomaly with Alpha"))
			require.NoError(t, err)
			_, err = store.Create(ctx, legacy("Traffic Anomaly with Other"))
			require.NoError(t, err)

			h.push(map[string]string{"schemas/a.avdl": tt.base}, map[string]string{"schemas/a.avdl": tt.head})
			h.comment("alice", "esm prod register")
			bot := h.bot()
			require.Len(t, bot, 1)
			assert.Contains(t, bot[0], tt.summary)
			assert.ElementsMatch(t, tt.want, h.monitors("prod"))

			ms, err := store.List(ctx, "esm-prod")
			require.NoError(t, err)
			for _, m := range ms {
				if m.Name == "Traffic Anomaly with Alpha" {
					assert.Equal(t, id, m.ID, "the monitor that was there is the one updated")
					assert.Contains(t, m.Tags, "esm_record:com.acme.alpha", "it gains esm's tags")
					assert.Contains(t, m.Tags, "managed_by:esm")
				}
				if m.Name == "Traffic Anomaly with Other" {
					assert.Equal(t, []string{"esm-prod", "team:a"}, m.Tags, "a monitor the change set does not name is left alone")
				}
			}
		})
	}
}

// A register and an esm apply running at once on one local state file
// take turns: the apply holds the store's lock across its plan and
// apply, and register waits for it instead of planning against the same
// empty state, so no monitor is created twice.
func TestRegisterWaitsForAConcurrentApply(t *testing.T) {
	listed := make(chan struct{}, 1)
	h := newHarness(t, nil)
	h.runner.Backends = backends(func(env string) (monitor.Store, error) {
		s, err := h.store(env)
		return &signallingStore{Store: s.(*localstore.Store), listed: listed}, err
	})
	h.srv.SetPermission(repoName, "alice", "write")
	src := protocol("A", "Alpha", "Beta", "Gamma")
	h.push(nil, map[string]string{"schemas/a.avdl": src})
	desired, bad := desiredOf(t, src)
	require.False(t, bad)

	// The apply (the CLI's: its own store on the file) takes the lock
	// first, then lets the register run; it plans once the register has
	// listed, or after a while when the register waits for the lock as it
	// should.
	ctx := context.Background()
	cli, err := localstore.Open(filepath.Join(h.dir, "prod.json"))
	require.NoError(t, err)
	unlock, err := cli.Lock(ctx)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.comment("alice", "esm prod register")
	}()
	select {
	case <-listed:
	case <-time.After(500 * time.Millisecond):
	}
	current, err := cli.List(ctx, monitor.EnvTag("prod"))
	require.NoError(t, err)
	_, err = monitor.Apply(ctx, cli, monitor.Diff("prod", desired, current, monitor.Scope{}), monitor.ApplyOptions{})
	require.NoError(t, err)
	unlock()
	<-done

	assert.ElementsMatch(t, []string{"Traffic Anomaly with Alpha", "Traffic Anomaly with Beta", "Traffic Anomaly with Gamma"}, h.monitors("prod"), "one monitor per name")
	assert.Contains(t, h.bot()[0], "**No changes.**", "register planned after the apply")
	assert.Contains(t, h.logs.String(), "waiting for the store's lock", "the wait is logged")
}

// signallingStore says when it has listed.
type signallingStore struct {
	*localstore.Store
	listed chan struct{}
}

func (s *signallingStore) List(ctx context.Context, tag string) ([]monitor.Monitor, error) {
	ms, err := s.Store.List(ctx, tag)
	select {
	case s.listed <- struct{}{}:
	default:
	}
	return ms, err
}

// desiredOf returns the monitors the bot's config asks for in prod from
// src as schemas/a.avdl, named as the bot names them; diags is whether
// there were errors.
func desiredOf(t *testing.T, src string) ([]monitor.Desired, bool) {
	t.Helper()
	tree := idl.LoadFiles([]string{"schemas/a.avdl"}, idl.Options{ReadFile: func(name string) ([]byte, error) {
		if name == "schemas/a.avdl" {
			return []byte(src), nil
		}
		return nil, fs.ErrNotExist
	}})
	specs, diags := reconcile.SpecsFromTypes(config.Default(), "prod", tree.Types)
	desired, err := reconcile.Render("prod", specs, datadog.Render)
	require.NoError(t, err)
	return desired, tree.Diags.HasErrors() || diags.HasErrors()
}

// backends serves the stores of stores as the runner's backends, which
// render for Datadog, as esm serve's do.
func backends(stores func(env string) (monitor.Store, error)) func(string) (reconcile.Backend, error) {
	return func(env string) (reconcile.Backend, error) {
		s, err := stores(env)
		return reconcile.Backend{Render: datadog.Render, Store: s, Description: "test store"}, err
	}
}

// The bot plans and registers every kind the example schemas show
// (anomaly, volume, bad data, forecast, log), against the fake Datadog,
// with the example esm.yaml; a second register has nothing to do.
func TestBotPlansAndRegistersEveryKind(t *testing.T) {
	files := map[string]string{}
	for _, name := range []string{"catalog.avdl", "payments.avdl"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "schemas", name))
		require.NoError(t, err)
		files["schemas/"+name] = string(b)
	}
	cfg, err := config.Load(filepath.Join("..", "..", "esm.example.yaml"))
	require.NoError(t, err)
	dd := ddtest.NewServer(t)
	store, err := datadog.New(datadog.Config{APIKey: "k", AppKey: "a", URL: dd.URL})
	require.NoError(t, err)
	h := newHarness(t, func(r *reconcile.Runner) {
		r.Config = cfg
		r.Backends = func(string) (reconcile.Backend, error) {
			return reconcile.Backend{Render: datadog.Render, Store: store, Description: "fake Datadog"}, nil
		}
	})
	h.srv.SetPermission(repoName, "alice", "write")
	h.push(nil, files)

	h.comment("alice", "esm prod plan")
	plan := h.bot()
	require.Len(t, plan, 1)
	kinds := map[string]bool{}
	for _, prefix := range []string{"Traffic Anomaly with ", "Traffic Volume with ", "Bad Data with ", "Traffic Forecast with ", "Logs with "} {
		kinds[prefix] = strings.Contains(plan[0], prefix)
	}
	assert.Equal(t, map[string]bool{"Traffic Anomaly with ": true, "Traffic Volume with ": true, "Bad Data with ": true,
		"Traffic Forecast with ": true, "Logs with ": true}, kinds, "the plan comment shows every kind")

	h.comment("alice", "esm prod register")
	types := map[string]int{}
	for _, m := range dd.Monitors() {
		types[m.Type]++
		assert.Contains(t, m.Tags, "esm-prod", m.Name)
	}
	assert.Positive(t, types["log alert"], "log monitors are registered")
	assert.Positive(t, types["query alert"])
	registered := len(dd.Monitors())
	assert.Contains(t, h.bot()[1], fmt.Sprintf("**Apply complete:** %d created, 0 updated, 0 deleted, 0 failed.", registered))

	h.comment("alice", "esm prod register")
	assert.Contains(t, h.bot()[1], "**No changes.**", "what Datadog stored plans no change")
	assert.Len(t, dd.Monitors(), registered)
}
