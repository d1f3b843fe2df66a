package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/forge"
	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/report"
)

// CommentEvent is a comment created on a pull request.
type CommentEvent struct {
	Delivery   string // X-GitHub-Delivery
	Repo       forge.Repo
	RepoURL    string // https://github.com/owner/name, for links
	Number     int
	CommentID  int64
	Body       string
	Author     string
	AuthorType string // "Bot" for apps
}

// PullRequestEvent is a pull request opened, synchronized or reopened.
type PullRequestEvent struct {
	Delivery string
	Repo     forge.Repo
	RepoURL  string
	Number   int
	Action   string
}

// AllowList is the repositories the bot answers (ESM_ALLOWED_REPOS).
type AllowList struct {
	repos  map[string]bool // owner/name, lowercase
	owners map[string]bool // owner of owner/*, lowercase
}

var repoPartRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ParseAllowList parses a comma-separated list of owner/name and owner/*
// entries. An empty list is an error: the bot must answer no one by
// accident.
func ParseAllowList(s string) (AllowList, error) {
	a := AllowList{repos: map[string]bool{}, owners: map[string]bool{}}
	var errs []error
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		owner, name, ok := strings.Cut(e, "/")
		if !ok || !repoPartRE.MatchString(owner) || (name != "*" && !repoPartRE.MatchString(name)) {
			errs = append(errs, fmt.Errorf("allowed repository %q is not owner/name or owner/*", e))
			continue
		}
		if name == "*" {
			a.owners[strings.ToLower(owner)] = true
		} else {
			a.repos[strings.ToLower(e)] = true
		}
	}
	if len(errs) == 0 && len(a.repos)+len(a.owners) == 0 {
		errs = append(errs, errors.New("the list of allowed repositories is empty"))
	}
	return a, errors.Join(errs...)
}

// Allows reports whether the list holds repo.
func (a AllowList) Allows(repo forge.Repo) bool {
	return a.owners[strings.ToLower(repo.Owner)] || a.repos[strings.ToLower(repo.String())]
}

// Command kinds.
const (
	CommandPlan     = "plan"
	CommandRegister = "register"
	CommandHelp     = "help"
)

// Command is a parsed "esm ..." comment.
type Command struct {
	Kind string // CommandPlan, CommandRegister or CommandHelp
	Env  string
	// AllowMassDelete lifts the mass-delete guard of register.
	AllowMassDelete bool
}

// ParseCommand reads the first line of a comment. addressed is false when
// the line does not start with the word "esm": the comment is not for the
// bot. problem is set when it is for the bot but not a valid command;
// the bot answers it with the usage.
func ParseCommand(body string, envs []string) (cmd Command, addressed bool, problem string) {
	line, _, _ := strings.Cut(body, "\n")
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "esm" {
		return Command{}, false, ""
	}
	f = f[1:]
	switch {
	case len(f) == 0:
		return Command{}, true, "missing command"
	case f[0] == CommandHelp || f[0] == "--help" || f[0] == "-h":
		return Command{Kind: CommandHelp}, true, ""
	case f[0] == CommandPlan || f[0] == CommandRegister:
		return Command{}, true, fmt.Sprintf("missing environment: write `esm <env> %s`", f[0])
	}
	env := f[0]
	known := false
	for _, e := range envs {
		known = known || e == env
	}
	if !known {
		return Command{}, true, fmt.Sprintf("unknown environment %q", env)
	}
	if len(f) < 2 {
		return Command{}, true, fmt.Sprintf("missing command after `esm %s`", env)
	}
	cmd = Command{Kind: f[1], Env: env}
	if cmd.Kind != CommandPlan && cmd.Kind != CommandRegister {
		return Command{}, true, fmt.Sprintf("unknown command %q", f[1])
	}
	for _, flag := range f[2:] {
		if flag == "--allow-mass-delete" && cmd.Kind == CommandRegister {
			cmd.AllowMassDelete = true
			continue
		}
		return Command{}, true, fmt.Sprintf("unknown argument %q", flag)
	}
	return cmd, true, ""
}

// Runner runs the bot's commands: one run is a trigger (a comment or an
// automatic plan), the schemas of the pull request at its head, the plan
// against the environment's store, for register its application, and the
// result comment, commit status and reactions. It is safe for concurrent
// use; runs on one repository and environment take turns.
type Runner struct {
	// GitHub is the GitHub API.
	GitHub forge.GitHub
	// Backends returns the backend (renderer and store) of an environment.
	Backends func(env string) (Backend, error)
	// Config holds the environments and the defaults of the monitors.
	Config *config.Config
	// Allowed is the allow-list of repositories.
	Allowed AllowList
	// RequireApproval makes register wait for an approving review.
	RequireApproval bool
	// AutoPlan lists the environments planned when a pull request that
	// touches schemas (or query files) is opened, synchronized or reopened.
	AutoPlan []string
	// QueriesDir is the directory of the query files in the repository
	// (default DefaultQueriesDir): the query files under it count in a
	// pull request's change set.
	QueriesDir string
	// Logger receives the run's lines; nil discards them.
	Logger *slog.Logger
	// CommentLimit is the largest comment posted (default
	// report.MaxCommentLength).
	CommentLimit int
	// ApplyConcurrency bounds the store calls of an apply (default: what
	// the store advertises with an ApplyConcurrency method, else 8).
	ApplyConcurrency int
	// OnRun, when set, is told the command, environment, outcome
	// ("success", "failure", "denied" or "error") and duration of every
	// run, for metrics.
	OnRun func(command, env, outcome string, d time.Duration)

	mu    sync.Mutex
	locks map[string]chan struct{}
	notes map[string]*waitingNote // by repository, pull request and environment
	login string
}

// queriesDir returns the directory of the query files in the repository.
func (r *Runner) queriesDir() string {
	if r.QueriesDir == "" {
		return DefaultQueriesDir
	}
	return r.QueriesDir
}

// waitingNote is the one comment of a pull request and environment that
// says how many of its commands wait for the run in progress.
type waitingNote struct {
	mu      sync.Mutex // held while the comment is written
	id      int64      // the comment, 0 until it is found or posted
	waiting int
}

// finalReportTimeout bounds the result comment, commit status and
// reaction of a run whose context ended: they are written under a context
// of their own, so that a run cut short (esm shutting down) still leaves
// the pull request in a final state.
const finalReportTimeout = 10 * time.Second

// run is one command being carried out.
type run struct {
	r         *Runner
	log       *slog.Logger
	repo      forge.Repo
	repoURL   string
	number    int
	commentID int64 // 0 for an automatic plan
	cmd       Command
	auto      bool
}

// HandleComment answers a comment created on a pull request. It returns
// when the run, if any, is over.
func (r *Runner) HandleComment(ctx context.Context, ev CommentEvent) {
	cmd, addressed, problem := ParseCommand(ev.Body, r.Config.EnvNames())
	if !addressed {
		return
	}
	line, _, _ := strings.Cut(ev.Body, "\n")
	ctx, log := r.runLogger(ctx, ev.Delivery, ev.Repo, ev.Number, strings.TrimSpace(line))
	if !r.Allowed.Allows(ev.Repo) {
		// As Atlantis does: no answer at all in a repository that merely
		// installed the app, only this line for the operator.
		log.Warn("command ignored: repository not allowed (ESM_ALLOWED_REPOS); nothing is posted", "author", ev.Author)
		r.observe(cmd, "denied", 0)
		return
	}
	if ev.AuthorType == "Bot" || r.isSelf(ctx, ev.Author) {
		log.Info("comment ignored: written by a bot", "author", ev.Author)
		return
	}
	ru := &run{r: r, log: log, repo: ev.Repo, repoURL: ev.RepoURL, number: ev.Number, commentID: ev.CommentID, cmd: cmd}
	if ctx.Err() != nil {
		// Still queued when esm began to shut down: the command never
		// started. 😕 says so, quietly (a queue of them would otherwise
		// post a comment each), under a context of its own.
		log.Warn("command not run", "cause", context.Cause(ctx))
		fctx, cancel := finalContext(ctx)
		defer cancel()
		r.observe(cmd, "error", 0)
		ru.react(fctx, forge.ReactionConfused)
		return
	}
	if problem != "" || cmd.Kind == CommandHelp {
		log.Info("usage answered", "problem", problem)
		ru.reply(ctx, report.Usage(r.Config.EnvNames(), problem))
		return
	}
	if ru.reactedBefore(ctx) {
		// The webhook drops a comment it has handed off already; this
		// holds across restarts: esm's reaction is the record.
		log.Warn("comment ignored: esm reacted to it already, it was handled before (a replay or a redelivery)")
		return
	}
	if cmd.Kind == CommandRegister {
		if why, err := r.authorise(ctx, ev); err != nil || why != "" {
			if err != nil {
				log.Error("authorisation failed", "error", err)
				why = "esm could not check the permission: " + err.Error()
			}
			log.Warn("command denied", "author", ev.Author, "reason", why)
			ru.reply(ctx, report.Denied(why))
			r.observe(cmd, "denied", 0)
			return
		}
		if ru.isDraft(ctx) {
			log.Info("register refused: the pull request is a draft")
			ru.reply(ctx, report.Draft(cmd.Env))
			r.observe(cmd, "denied", 0)
			return
		}
	}
	ru.react(ctx, forge.ReactionEyes)
	ru.execute(ctx)
}

// reactedBefore reports whether the bot has put one of its run reactions
// on the command's comment: an earlier run handled it. When the reactions
// or the bot's login cannot be read, the command goes ahead.
func (ru *run) reactedBefore(ctx context.Context) bool {
	self := ru.r.selfLogin(ctx)
	if ru.commentID == 0 || self == "" {
		return false
	}
	reactions, err := ru.r.GitHub.ListCommentReactions(ctx, ru.repo, ru.commentID)
	if err != nil {
		ru.log.Warn("reactions check failed", "error", fmt.Errorf("list reactions: %w", err))
		return false
	}
	for _, x := range reactions {
		switch x.Content {
		case forge.ReactionEyes, forge.ReactionRocket, forge.ReactionConfused:
			if strings.EqualFold(x.User, self) {
				return true
			}
		}
	}
	return false
}

// isDraft reports whether the pull request is a draft. When it cannot be
// read, the run goes ahead and reports that failure itself.
func (ru *run) isDraft(ctx context.Context) bool {
	pr, err := ru.r.GitHub.PullRequest(ctx, ru.repo, ru.number)
	if err != nil {
		ru.log.Warn("draft check failed", "error", fmt.Errorf("get pull request: %w", err))
		return false
	}
	return pr.Draft
}

// authorise returns why ev's author may not register, or "".
func (r *Runner) authorise(ctx context.Context, ev CommentEvent) (string, error) {
	perm, err := r.GitHub.PermissionLevel(ctx, ev.Repo, ev.Author)
	if err != nil {
		return "", fmt.Errorf("get permission of %s: %w", ev.Author, err)
	}
	if perm != "write" && perm != "admin" {
		return fmt.Sprintf("@%s has %s permission on %s; `register` needs write or admin", ev.Author, perm, ev.Repo), nil
	}
	if r.RequireApproval {
		reviews, err := r.GitHub.ListReviews(ctx, ev.Repo, ev.Number)
		if err != nil {
			return "", fmt.Errorf("list reviews: %w", err)
		}
		if !Approved(reviews) {
			return "this pull request must be approved before `register`", nil
		}
	}
	return "", nil
}

// Approved reports whether reviews approve a pull request: some reviewer's
// latest decisive review approves it and none's requests changes.
func Approved(reviews []forge.Review) bool {
	latest := map[string]string{}
	for _, rv := range reviews {
		switch rv.State {
		case "APPROVED", "CHANGES_REQUESTED", "DISMISSED":
			latest[strings.ToLower(rv.Author)] = rv.State
		}
	}
	approved := false
	for _, s := range latest {
		if s == "CHANGES_REQUESTED" {
			return false
		}
		approved = approved || s == "APPROVED"
	}
	return approved
}

// HandlePullRequest plans the environments of AutoPlan when the pull
// request changes schema files.
func (r *Runner) HandlePullRequest(ctx context.Context, ev PullRequestEvent) {
	if len(r.AutoPlan) == 0 {
		return
	}
	ctx, log := r.runLogger(ctx, ev.Delivery, ev.Repo, ev.Number, "autoplan on "+ev.Action)
	if !r.Allowed.Allows(ev.Repo) {
		log.Info("autoplan skipped: repository not allowed")
		return
	}
	files, err := r.GitHub.ListPullRequestFiles(ctx, ev.Repo, ev.Number)
	if err != nil {
		log.Error("autoplan failed", "error", fmt.Errorf("list pull request files: %w", err))
		return
	}
	if !ChangesMonitors(files, r.queriesDir()) {
		log.Info("autoplan skipped: no schema or query file changed")
		return
	}
	for _, env := range r.AutoPlan {
		if err := ctx.Err(); err != nil {
			log.Info("autoplan stopped", "env", env, "reason", context.Cause(ctx))
			return
		}
		ru := &run{r: r, log: log.With("env", env), repo: ev.Repo, repoURL: ev.RepoURL, number: ev.Number, cmd: Command{Kind: CommandPlan, Env: env}, auto: true}
		ru.execute(ctx)
	}
}

// runLogger returns a logger and a context that carry the run's
// attributes: delivery, repo, pr, command and a new run id.
func (r *Runner) runLogger(ctx context.Context, delivery string, repo forge.Repo, number int, command string) (context.Context, *slog.Logger) {
	var id [6]byte
	_, _ = rand.Read(id[:])
	attrs := []slog.Attr{
		slog.String("delivery", delivery), slog.String("repo", repo.String()),
		slog.Int("pr", number), slog.String("command", command), slog.String("run", hex.EncodeToString(id[:])),
	}
	ctx = context.WithValue(ctx, logAttrsKey{}, attrs)
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	args := make([]any, len(attrs))
	for i, a := range attrs {
		args[i] = a
	}
	return ctx, log.With(args...)
}

type logAttrsKey struct{}

// LogHandler wraps h so that a record logged with the context of a run
// (by the GitHub adapter or a store, say) carries the run's attributes:
// delivery, repo, pr, command and run. Records of the Runner's own
// logger carry them already and are passed through unchanged.
func LogHandler(h slog.Handler) slog.Handler { return &logHandler{h: h} }

type logHandler struct {
	h      slog.Handler
	hasRun bool // the logger was made with the attributes already
}

func (l *logHandler) Enabled(ctx context.Context, lv slog.Level) bool { return l.h.Enabled(ctx, lv) }

func (l *logHandler) Handle(ctx context.Context, rec slog.Record) error {
	if attrs, ok := ctx.Value(logAttrsKey{}).([]slog.Attr); ok && !l.hasRun {
		rec = rec.Clone()
		rec.AddAttrs(attrs...)
	}
	return l.h.Handle(ctx, rec)
}

func (l *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	has := l.hasRun
	for _, a := range attrs {
		has = has || a.Key == "run"
	}
	return &logHandler{h: l.h.WithAttrs(attrs), hasRun: has}
}

func (l *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{h: l.h.WithGroup(name), hasRun: l.hasRun}
}

// isSelf reports whether login is the bot's own.
func (r *Runner) isSelf(ctx context.Context, login string) bool {
	self := r.selfLogin(ctx)
	return self != "" && strings.EqualFold(self, login)
}

// selfLogin returns the bot's login, asked of GitHub once.
func (r *Runner) selfLogin(ctx context.Context) string {
	r.mu.Lock()
	login := r.login
	r.mu.Unlock()
	if login != "" {
		return login
	}
	login, err := r.GitHub.Login(ctx)
	if err != nil {
		return ""
	}
	r.mu.Lock()
	r.login = login
	r.mu.Unlock()
	return login
}

// lock waits for the turn of repo and env. It calls busy, once, when
// another run holds it. The returned function releases it.
func (r *Runner) lock(ctx context.Context, repo forge.Repo, env string, busy func()) (func(), error) {
	key := strings.ToLower(repo.String()) + "\x00" + env
	r.mu.Lock()
	if r.locks == nil {
		r.locks = map[string]chan struct{}{}
	}
	l, ok := r.locks[key]
	if !ok {
		l = make(chan struct{}, 1)
		r.locks[key] = l
	}
	r.mu.Unlock()
	unlock := func() { <-l }
	select {
	case l <- struct{}{}:
		return unlock, nil
	default:
	}
	busy()
	select {
	case l <- struct{}{}:
		return unlock, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the run in progress: %w", ctx.Err())
	}
}

// reply posts a new comment; a failure is logged.
func (ru *run) reply(ctx context.Context, body string) {
	if _, err := ru.r.GitHub.CreateIssueComment(ctx, ru.repo, ru.number, body); err != nil {
		ru.log.Error("reply failed", "error", fmt.Errorf("create issue comment: %w", err))
	}
}

// react puts a reaction on the command's comment; a failure is logged.
func (ru *run) react(ctx context.Context, reaction string) {
	if ru.commentID == 0 {
		return
	}
	if err := ru.r.GitHub.CreateCommentReaction(ctx, ru.repo, ru.commentID, reaction); err != nil {
		ru.log.Error("reaction failed", "reaction", reaction, "error", fmt.Errorf("create reaction: %w", err))
	}
}

// status sets the commit status esm/<env>; a failure is logged.
func (ru *run) status(ctx context.Context, sha, state, desc string) {
	if len(desc) > 140 {
		desc = desc[:137] + "..."
	}
	s := forge.CommitStatus{Context: "esm/" + ru.cmd.Env, State: state, Description: desc}
	if err := ru.r.GitHub.CreateStatus(ctx, ru.repo, sha, s); err != nil {
		ru.log.Error("commit status failed", "state", state, "error", fmt.Errorf("create status: %w", err))
	}
}

// execute waits for the turn of the repository and environment, runs the
// command, and reports its outcome.
func (ru *run) execute(ctx context.Context) {
	waited := false
	unlock, err := ru.r.lock(ctx, ru.repo, ru.cmd.Env, func() {
		ru.log.Info("waiting for the run in progress")
		if !ru.auto {
			waited = true
			ru.noteWaiting(ctx, +1)
		}
	})
	if waited {
		// Done waiting, by its turn or by its end: the count goes down
		// even when ctx ended.
		fctx, cancel := finalContext(ctx)
		ru.noteWaiting(fctx, -1)
		cancel()
	}
	if err != nil {
		ru.log.Error("run abandoned", "error", err, "cause", context.Cause(ctx))
		fctx, cancel := finalContext(ctx)
		defer cancel()
		ru.r.observe(ru.cmd, "error", 0)
		ru.react(fctx, forge.ReactionConfused)
		return
	}
	defer unlock()
	start := time.Now()
	ru.log.Info("run started", "env", ru.cmd.Env, "kind", ru.cmd.Kind)
	res, sha := ru.carryOut(ctx)
	cause := context.Cause(ctx)
	interrupted := ctx.Err() != nil && (res.Failure != "" || anyFailed(res.Results))
	if ctx.Err() != nil {
		// Whatever carryOut got done, report it under a context that
		// outlives the run's, or the status would stay pending.
		fctx, cancel := finalContext(ctx)
		defer cancel()
		ctx = fctx
	}
	if interrupted {
		ru.log.Warn("run interrupted", "cause", cause, "failure", res.Failure)
		res.Failure = interruptedText(ru.cmd, cause)
	}
	bodies := report.Comment(res, ru.r.limit())
	if err := ru.postResult(ctx, bodies); err != nil {
		ru.log.Error("result comment failed", "error", err)
		res.Failure = err.Error()
	}
	state, desc := report.StatusOf(res)
	if interrupted {
		state, desc = forge.StatusError, "esm "+ru.cmd.Kind+" was interrupted; comment again to run it"
	}
	if sha != "" {
		ru.status(ctx, sha, state, desc)
	}
	// The run is counted before the final reaction, which is what callers
	// (and tests) wait for.
	outcome := "failure"
	switch state {
	case forge.StatusSuccess:
		outcome = "success"
	case forge.StatusError:
		outcome = "error"
	}
	ru.r.observe(ru.cmd, outcome, time.Since(start))
	if state == forge.StatusSuccess {
		ru.react(ctx, forge.ReactionRocket)
	} else {
		ru.react(ctx, forge.ReactionConfused)
	}
	ru.log.Info("run finished", "state", state, "description", desc)
}

// finalContext returns a context for the last writes of a run: it keeps
// ctx's values (the run's log attributes) but not its end, and ends after
// finalReportTimeout.
func finalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), finalReportTimeout)
}

// interruptedText is the failure shown for a run whose context ended
// before it finished.
func interruptedText(cmd Command, cause error) string {
	again := "esm " + cmd.Env + " " + cmd.Kind
	if cmd.AllowMassDelete {
		again += " --allow-mass-delete"
	}
	return fmt.Sprintf("the run was interrupted (%v): nothing more was applied; comment `%s` again to run it", cause, again)
}

// anyFailed reports whether a change of an apply failed.
func anyFailed(results []monitor.Result) bool {
	for _, x := range results {
		if x.Err != nil {
			return true
		}
	}
	return false
}

// noteWaiting adds delta to the commands of the pull request and
// environment that wait for the run in progress, and writes the count in
// their one "waiting" comment: posted the first time, edited afterwards
// (found by its marker after a restart). A failure is logged.
func (ru *run) noteWaiting(ctx context.Context, delta int) {
	n := ru.r.waitingNote(ru.repo, ru.number, ru.cmd.Env)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.waiting = max(0, n.waiting+delta)
	body := report.Waiting(ru.cmd.Env, n.waiting)
	if n.id == 0 {
		parts, err := ru.ownComments(ctx, report.KindWaiting)
		if err != nil {
			ru.log.Error("waiting comment failed", "error", err)
		}
		n.id = parts[1]
	}
	if n.id != 0 {
		err := ru.r.GitHub.EditIssueComment(ctx, ru.repo, n.id, body)
		if err == nil {
			return
		}
		ru.log.Error("waiting comment failed", "error", fmt.Errorf("edit issue comment %d: %w", n.id, err))
		n.id = 0 // look it up again next time: it may have been deleted
		return
	}
	if n.waiting == 0 {
		return // nothing to say that is not already said
	}
	id, err := ru.r.GitHub.CreateIssueComment(ctx, ru.repo, ru.number, body)
	if err != nil {
		ru.log.Error("waiting comment failed", "error", fmt.Errorf("create issue comment: %w", err))
		return
	}
	n.id = id
}

// waitingNote returns the waiting note of a pull request and environment.
func (r *Runner) waitingNote(repo forge.Repo, number int, env string) *waitingNote {
	key := fmt.Sprintf("%s\x00%d\x00%s", strings.ToLower(repo.String()), number, env)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notes == nil {
		r.notes = map[string]*waitingNote{}
	}
	n, ok := r.notes[key]
	if !ok {
		n = &waitingNote{}
		r.notes[key] = n
	}
	return n
}

// observe reports a run to OnRun.
func (r *Runner) observe(cmd Command, outcome string, d time.Duration) {
	if r.OnRun != nil {
		r.OnRun(cmd.Kind, cmd.Env, outcome, d)
	}
}

func (r *Runner) limit() int {
	if r.CommentLimit > 0 {
		return r.CommentLimit
	}
	return report.MaxCommentLength
}

// carryOut does the run and returns what its comment shows and the head
// SHA of the commit status ("" when the pull request could not be read).
func (ru *run) carryOut(ctx context.Context) (*report.CommentInput, string) {
	res := &report.CommentInput{Env: ru.cmd.Env, Command: ru.cmd.Kind, RepoURL: ru.repoURL, Auto: ru.auto}
	fail := func(format string, args ...any) (*report.CommentInput, string) {
		err := fmt.Errorf(format, args...)
		ru.log.Error("run failed", "error", err)
		res.Failure = err.Error()
		return res, res.SHA
	}
	pr, err := ru.r.GitHub.PullRequest(ctx, ru.repo, ru.number)
	if err != nil {
		return fail("get pull request: %w", err)
	}
	if pr.State != "open" {
		return fail("pull request #%d is %s: esm runs only on open pull requests", ru.number, pr.State)
	}
	res.SHA = pr.HeadSHA
	ru.status(ctx, pr.HeadSHA, forge.StatusPending, "esm "+ru.cmd.Kind+" is running")

	files, err := ru.r.GitHub.ListPullRequestFiles(ctx, ru.repo, ru.number)
	if err != nil {
		return fail("list pull request files: %w", err)
	}
	head, base := ChangedSchemaFiles(files)
	qhead, qbase := ChangedQueryFiles(files, ru.r.queriesDir())
	headFiles := &fetcher{ctx: ctx, gh: ru.r.GitHub, repo: ru.repo, sha: pr.HeadSHA, cache: map[string][]byte{}}
	baseFiles := &fetcher{ctx: ctx, gh: ru.r.GitHub, repo: ru.repo, sha: pr.BaseSHA, cache: map[string][]byte{}}
	headFiles.prefetch(append(head, qhead...))
	baseFiles.prefetch(append(base, qbase...))
	ch, err := LoadChangeSet(ru.r.Config, ru.cmd.Env, files, headFiles.readFile, baseFiles.readFile, ru.r.queriesDir())
	if err != nil {
		return fail("%w", err)
	}
	if ch.BaseErrors > 0 {
		// The base is what was merged before: its problems are not this
		// pull request's, but they may hide records from the scope.
		ru.log.Warn("the base schemas have errors; records they fail to declare are out of scope", "errors", ch.BaseErrors)
	}
	res.Files = ch.Files
	res.Diags = ch.Diags
	if ch.Diags.HasErrors() {
		ru.log.Warn("schema errors: nothing planned", "errors", len(ch.Diags.Errors()))
		return res, pr.HeadSHA
	}
	backend, err := ru.r.Backends(ru.cmd.Env)
	if err != nil {
		return fail("open the store of %s: %w", ru.cmd.Env, err)
	}
	resp, err := Run(ctx, Request{
		Env:     ru.cmd.Env,
		Specs:   ch.Specs,
		Backend: backend,
		Scope:   ch.Scope,
		Apply:   ru.cmd.Kind == CommandRegister,
		Options: monitor.ApplyOptions{
			Concurrency:     ru.r.ApplyConcurrency,
			MaxDeletes:      ru.r.Config.MaxDeletes(ru.cmd.Env),
			AllowMassDelete: ru.cmd.AllowMassDelete,
		},
		Waiting: func() {
			ru.log.Info("waiting for the store's lock: another run (esm apply, or a register elsewhere) holds it")
		},
		Planned: func(plan *monitor.Plan) {
			s := plan.Summary()
			ru.log.Info("planned", "create", s.Create, "update", s.Update, "delete", s.Delete, "unchanged", s.Unchanged)
		},
		// Register: apply only what was planned on the head that was read.
		Confirm: func(ctx context.Context, _ *monitor.Plan) error {
			again, err := ru.r.GitHub.PullRequest(ctx, ru.repo, ru.number)
			if err != nil {
				return fmt.Errorf("get pull request: %w", err)
			}
			if again.HeadSHA != pr.HeadSHA {
				return fmt.Errorf("the head of the pull request moved from %s to %s during the run; nothing was applied, comment again to register %s", short(pr.HeadSHA), short(again.HeadSHA), short(again.HeadSHA))
			}
			return nil
		},
	})
	if resp != nil {
		res.Plan = resp.Plan
	}
	var massDelete *monitor.MassDeleteError
	switch {
	case errors.As(err, &massDelete):
		return fail("%v: %d deletions, more than the limit of %d; nothing was applied, comment `esm %s register --allow-mass-delete` to go ahead", monitor.ErrMassDelete, massDelete.Deletes, massDelete.Max, ru.cmd.Env)
	case err != nil:
		return fail("%w", err)
	}
	res.Applied, res.Results = resp.Applied, resp.Results
	for _, x := range resp.Results {
		if x.Err != nil {
			ru.log.Error("change failed", "monitor", x.Change.Name, "action", string(x.Change.Action), "error", x.Err)
		}
	}
	return res, pr.HeadSHA
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// postResult writes the result comments: the comments of an earlier run
// of the same command and environment are edited in place, parts added
// or emptied as the length asks.
func (ru *run) postResult(ctx context.Context, bodies []string) error {
	gh := ru.r.GitHub
	parts, err := ru.ownComments(ctx, ru.cmd.Kind)
	if err != nil {
		return err
	}
	for i, body := range bodies {
		if id, ok := parts[i+1]; ok {
			if err := gh.EditIssueComment(ctx, ru.repo, id, body); err != nil {
				return fmt.Errorf("edit issue comment %d: %w", id, err)
			}
			delete(parts, i+1)
			continue
		}
		if _, err := gh.CreateIssueComment(ctx, ru.repo, ru.number, body); err != nil {
			return fmt.Errorf("create issue comment: %w", err)
		}
	}
	for part, id := range parts {
		if err := gh.EditIssueComment(ctx, ru.repo, id, report.Unused(ru.cmd.Env, ru.cmd.Kind, part)); err != nil {
			return fmt.Errorf("edit issue comment %d: %w", id, err)
		}
	}
	return nil
}

// ownComments returns the bot's comments on the pull request whose
// Marker names the run's environment and kind: part number → comment id,
// the oldest of each part.
func (ru *run) ownComments(ctx context.Context, kind string) (map[int]int64, error) {
	comments, err := ru.r.GitHub.ListIssueComments(ctx, ru.repo, ru.number)
	if err != nil {
		return nil, fmt.Errorf("list issue comments: %w", err)
	}
	self := ru.r.selfLogin(ctx)
	parts := map[int]int64{} // part number → comment id
	for _, c := range comments {
		env, k, part, ok := report.ParseMarker(c.Body)
		if !ok || env != ru.cmd.Env || k != kind {
			continue
		}
		if self != "" && !strings.EqualFold(c.Author, self) || self == "" && c.AuthorType != "Bot" {
			continue // not the bot's: never edit someone else's comment
		}
		if _, seen := parts[part]; !seen {
			parts[part] = c.ID
		}
	}
	return parts, nil
}

// fetcher reads the files of a repository at one SHA for the parser,
// each once.
type fetcher struct {
	ctx  context.Context
	gh   forge.Contents
	repo forge.Repo
	sha  string

	mu    sync.Mutex
	cache map[string][]byte
}

// prefetchConcurrency bounds the files fetched at once.
const prefetchConcurrency = 8

// prefetch fetches files concurrently into the cache.
func (f *fetcher) prefetch(files []string) {
	sem := make(chan struct{}, prefetchConcurrency)
	var wg sync.WaitGroup
	for _, name := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, _ = f.readFile(name)
		}()
	}
	wg.Wait()
}

// readFile is idl.Options.ReadFile: name is a path inside the repository,
// as the parser joins it; a path that leaves the repository is not found.
func (f *fetcher) readFile(name string) ([]byte, error) {
	p := path.Clean(strings.ReplaceAll(name, "\\", "/"))
	if p == ".." || strings.HasPrefix(p, "../") || path.IsAbs(p) {
		return nil, fmt.Errorf("%s: outside the repository: %w", name, fs.ErrNotExist)
	}
	f.mu.Lock()
	b, ok := f.cache[p]
	f.mu.Unlock()
	if ok {
		if b == nil {
			return nil, fmt.Errorf("%s at %s: %w", p, short(f.sha), fs.ErrNotExist)
		}
		return b, nil
	}
	b, err := f.gh.FileContents(f.ctx, f.repo, p, f.sha)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.mu.Lock()
		f.cache[p] = nil
		f.mu.Unlock()
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("get %s at %s: %w", p, short(f.sha), err)
	}
	if b == nil {
		b = []byte{}
	}
	f.mu.Lock()
	f.cache[p] = b
	f.mu.Unlock()
	return b, nil
}
