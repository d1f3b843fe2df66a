package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	gh "github.com/google/go-github/v60/github"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/forge"
	"github.com/esm-dev/esm/internal/github"
	"github.com/esm-dev/esm/internal/metrics"
	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/reconcile"
	"github.com/esm-dev/esm/webhook"
)

// The environment variables of the GitHub bot ("esm serve --role bot").
const (
	envWebhookSecret     = "ESM_WEBHOOK_SECRET"
	envAllowedRepos      = "ESM_ALLOWED_REPOS"
	envGitHubToken       = "GITHUB_TOKEN"
	envAppID             = "ESM_GITHUB_APP_ID"
	envAppPrivateKey     = "ESM_GITHUB_APP_PRIVATE_KEY"
	envAppPrivateKeyPath = "ESM_GITHUB_APP_PRIVATE_KEY_PATH"
	envGitHubURL         = "ESM_GITHUB_URL"
	envStateDir          = "ESM_STATE_DIR"
	envAutoPlan          = "ESM_AUTOPLAN"
	envRequireApproval   = "ESM_REQUIRE_APPROVAL"
	envMaxCommentAge     = "ESM_MAX_COMMENT_AGE"
)

// botConfig is the checked configuration of the bot.
type botConfig struct {
	secret          []byte
	allowed         reconcile.AllowList
	github          github.Config
	conf            *config.Config
	autoPlan        []string
	requireApproval bool
	maxCommentAge   time.Duration
	stateDir        string
	getenv          func(string) string
}

// newBotConfig builds the bot's configuration from its settings (read and
// checked by config.ReadServe): it parses the allow-list, checks the
// GitHub client's settings, loads the configuration file and opens every
// environment's store once, and reports every problem at once.
func newBotConfig(s *config.Serve) (*botConfig, error) {
	b := s.Bot
	bc := &botConfig{
		secret:          []byte(b.WebhookSecret.Reveal()),
		requireApproval: b.RequireApproval,
		maxCommentAge:   b.MaxCommentAge,
		stateDir:        b.StateDir,
		getenv:          s.Getenv,
		github: github.Config{
			Token: b.GitHubToken.Reveal(), BaseURL: b.GitHubURL,
			AppID: b.GitHubAppID, PrivateKey: []byte(b.GitHubAppPrivateKey.Reveal()),
		},
	}
	var errs []error
	if strings.TrimSpace(b.AllowedRepos) != "" { // config reports it missing
		allowed, err := reconcile.ParseAllowList(b.AllowedRepos)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (comma-separated owner/name or owner/*): %w", envAllowedRepos, err))
		}
		bc.allowed = allowed
	}
	if (bc.github.Token != "") != (bc.github.AppID != 0) && (bc.github.AppID == 0 || len(bc.github.PrivateKey) > 0) {
		if _, err := github.New(bc.github); err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	bc.conf, err = config.Load(s.ConfigFile)
	if err != nil {
		errs = append(errs, err)
	} else {
		bc.autoPlan, err = b.AutoPlanEnvs(bc.conf)
		if err != nil {
			errs = append(errs, err)
		}
		for _, env := range bc.conf.EnvNames() {
			if _, err := openEnvBackend(bc.conf, env, bc.stateDir, bc.getenv); err != nil {
				errs = append(errs, fmt.Errorf("the store of %s: %w", env, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return bc, nil
}

// bot is the GitHub bot: the webhook receiver and the runner behind it.
type bot struct {
	config   *botConfig
	receiver *webhook.Receiver
	runner   *reconcile.Runner
	stores   *storeCache

	readyMu   sync.Mutex
	readyAt   time.Time
	readyLast []storeProbe
}

// newBot builds the bot from bc. Its lines go to log, each line of a run
// with the run's delivery, repo, pr, command and run id.
// obs, when not nil, counts the bot's runs and its calls to GitHub and
// Datadog.
func newBot(bc *botConfig, log *slog.Logger, obs *metrics.Observer) (*bot, error) {
	log = slog.New(reconcile.LogHandler(log.Handler())).With("component", "bot")
	ghc := bc.github
	ghc.Logger = log
	stores := &storeCache{conf: bc.conf, stateDir: bc.stateDir, getenv: bc.getenv, stores: map[string]reconcile.Backend{}}
	if obs != nil {
		var base http.RoundTripper
		if ghc.HTTPClient != nil {
			base = ghc.HTTPClient.Transport
		}
		ghc.HTTPClient = &http.Client{Transport: obs.Transport("github", base), Timeout: 30 * time.Second}
		stores.opts = append(stores.opts, withTransport(obs.Transport("datadog", nil)))
	}
	client, err := github.New(ghc)
	if err != nil {
		return nil, err
	}
	b := &bot{config: bc, runner: &reconcile.Runner{
		GitHub:          client,
		Backends:        stores.open,
		Config:          bc.conf,
		Allowed:         bc.allowed,
		RequireApproval: bc.requireApproval,
		AutoPlan:        bc.autoPlan,
		Logger:          log,
	}}
	if obs != nil {
		b.runner.OnRun = obs.BotRun
	}
	b.stores = stores
	b.receiver, err = webhook.New(webhook.Config{Secret: bc.secret, Handler: botEvents{b.runner}, Logger: log, MaxCommentAge: bc.maxCommentAge})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// routes mounts the bot's endpoint, POST /webhook, on r.
func (b *bot) routes(r chi.Router) {
	r.Method(http.MethodPost, "/webhook", b.receiver.Deliveries())
}

// handler returns the bot alone as an http.Handler: POST /webhook and
// GET /healthz.
func (b *bot) handler() http.Handler { return b.receiver }

// shutdown stops taking deliveries and waits for the runs in progress.
func (b *bot) shutdown(ctx context.Context) error { return b.receiver.Shutdown(ctx) }

// storeCache opens each environment's store once.
type storeCache struct {
	// conf says each environment's backend.
	conf     *config.Config
	stateDir string
	getenv   func(string) string
	opts     []storeOption
	mu       sync.Mutex
	stores   map[string]reconcile.Backend
}

func (c *storeCache) open(env string) (reconcile.Backend, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.stores[env]; ok {
		return b, nil
	}
	b, err := openEnvBackend(c.conf, env, c.stateDir, c.getenv, c.opts...)
	if err != nil {
		return reconcile.Backend{}, err
	}
	c.stores[env] = b
	return b, nil
}

// botEvents hands the webhook's events to the runner.
type botEvents struct{ r *reconcile.Runner }

func repoOf(r *gh.Repository, inst *gh.Installation) forge.Repo {
	return forge.Repo{Owner: r.GetOwner().GetLogin(), Name: r.GetName(), Installation: inst.GetID()}
}

// IssueComment runs the command of a comment on a pull request.
func (e botEvents) IssueComment(ctx context.Context, d webhook.Delivery, ev *gh.IssueCommentEvent) {
	c := ev.GetComment()
	e.r.HandleComment(ctx, reconcile.CommentEvent{
		Delivery: d.ID, Repo: repoOf(ev.GetRepo(), ev.GetInstallation()), RepoURL: ev.GetRepo().GetHTMLURL(),
		Number: ev.GetIssue().GetNumber(), CommentID: c.GetID(), Body: c.GetBody(),
		Author: c.GetUser().GetLogin(), AuthorType: c.GetUser().GetType(),
	})
}

// PullRequest plans automatically when the pull request changes schemas.
func (e botEvents) PullRequest(ctx context.Context, d webhook.Delivery, ev *gh.PullRequestEvent) {
	e.r.HandlePullRequest(ctx, reconcile.PullRequestEvent{
		Delivery: d.ID, Repo: repoOf(ev.GetRepo(), ev.GetInstallation()), RepoURL: ev.GetRepo().GetHTMLURL(),
		Number: ev.GetNumber(), Action: ev.GetAction(),
	})
}

// storeProbe is the readiness of one environment's store.
type storeProbe struct {
	env string
	err error
}

// readyCacheTTL is how long a store check answers /readyz.
const readyCacheTTL = 15 * time.Second

// ready checks every environment's store: Ping when the store has it
// (Datadog), a List otherwise (the local state file is read and parsed).
func (b *bot) ready(ctx context.Context) []storeProbe {
	b.readyMu.Lock()
	defer b.readyMu.Unlock()
	if time.Since(b.readyAt) < readyCacheTTL && b.readyLast != nil {
		return b.readyLast
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var out []storeProbe
	for _, env := range b.config.conf.EnvNames() {
		be, err := b.stores.open(env)
		s := be.Store
		if err == nil {
			if p, ok := s.(interface{ Ping(context.Context) error }); ok {
				err = p.Ping(ctx)
			} else {
				_, err = s.List(ctx, monitor.EnvTag(env))
			}
		}
		out = append(out, storeProbe{env: env, err: err})
	}
	b.readyLast, b.readyAt = out, time.Now()
	return out
}
