package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	gh "github.com/google/go-github/v60/github"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/esm-dev/esm/internal/config"
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

// botFlags are the bot's flags of "esm serve".
type botFlags struct {
	stateDir        string
	autoPlan        string
	requireApproval string
	maxCommentAge   string
}

// register adds the bot's flags to fl.
func (f *botFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.stateDir, "state-dir", defaultStateDir, "bot: `DIR` of the local state files, used when DD_API_KEY and DD_APP_KEY are not set (ESM_STATE_DIR)")
	fl.StringVar(&f.autoPlan, "autoplan", "", "bot: plan these comma-separated `ENVS` (or all) when a pull request changes schemas (ESM_AUTOPLAN)")
	fl.StringVar(&f.requireApproval, "require-approval", "false", "bot: register only approved pull requests (ESM_REQUIRE_APPROVAL)")
	fl.StringVar(&f.maxCommentAge, "max-comment-age", webhook.DefaultMaxCommentAge.String(), "bot: ignore a command comment created longer than `DURATION` before its delivery arrives, a replay or a late redelivery (ESM_MAX_COMMENT_AGE)")
}

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

// config reads the bot's settings from the flags, the environment where a
// flag is not set (getenv is os.Getenv, or a fake in tests) and the
// configuration file, and reports every problem at once.
func (f *botFlags) config(cmd *cobra.Command, getenv func(string) string, configFile string) (*botConfig, error) {
	fromEnv := func(flag, env string, v *string) {
		if cmd == nil || !cmd.Flags().Changed(flag) {
			if e := getenv(env); e != "" {
				*v = e
			}
		}
	}
	fromEnv("state-dir", envStateDir, &f.stateDir)
	fromEnv("autoplan", envAutoPlan, &f.autoPlan)
	fromEnv("require-approval", envRequireApproval, &f.requireApproval)
	fromEnv("max-comment-age", envMaxCommentAge, &f.maxCommentAge)

	bc := &botConfig{stateDir: f.stateDir, getenv: getenv}
	var errs []error
	if bc.secret = []byte(getenv(envWebhookSecret)); len(bc.secret) == 0 {
		errs = append(errs, fmt.Errorf("%s is required: the secret of the GitHub webhook", envWebhookSecret))
	}
	allowed, err := reconcile.ParseAllowList(getenv(envAllowedRepos))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s (comma-separated owner/name or owner/*) is required: %w", envAllowedRepos, err))
	}
	bc.allowed = allowed
	bc.github, err = githubConfig(getenv)
	if err != nil {
		errs = append(errs, err)
	} else if _, err := github.New(bc.github); err != nil {
		errs = append(errs, err)
	}
	if bc.requireApproval, err = strconv.ParseBool(f.requireApproval); err != nil {
		errs = append(errs, fmt.Errorf("--require-approval %q: want true or false", f.requireApproval))
	}
	if f.maxCommentAge == "" {
		f.maxCommentAge = webhook.DefaultMaxCommentAge.String()
	}
	if bc.maxCommentAge, err = time.ParseDuration(f.maxCommentAge); err != nil || bc.maxCommentAge <= 0 {
		errs = append(errs, fmt.Errorf("--max-comment-age (%s) %q: want a positive duration such as 5m", envMaxCommentAge, f.maxCommentAge))
	}
	bc.conf, err = config.Load(configFile)
	if err != nil {
		errs = append(errs, err)
	} else {
		bc.autoPlan, err = autoPlanEnvs(f.autoPlan, bc.conf)
		if err != nil {
			errs = append(errs, err)
		}
		for _, env := range bc.conf.EnvNames() {
			if _, _, err := openStore(env, bc.stateDir, getenv); err != nil {
				errs = append(errs, fmt.Errorf("the store of %s: %w", env, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return bc, nil
}

// githubConfig reads the GitHub settings: a token, or an app id with a
// private key given inline or as a file.
func githubConfig(getenv func(string) string) (github.Config, error) {
	c := github.Config{Token: strings.TrimSpace(getenv(envGitHubToken)), BaseURL: strings.TrimSpace(getenv(envGitHubURL))}
	var errs []error
	if id := strings.TrimSpace(getenv(envAppID)); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s %q: want the app's numeric id", envAppID, id))
		}
		c.AppID = n
		key, path := getenv(envAppPrivateKey), strings.TrimSpace(getenv(envAppPrivateKeyPath))
		switch {
		case key != "" && path != "":
			errs = append(errs, fmt.Errorf("set %s or %s, not both", envAppPrivateKey, envAppPrivateKeyPath))
		case key != "":
			c.PrivateKey = []byte(key)
		case path != "":
			b, err := os.ReadFile(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", envAppPrivateKeyPath, err))
			}
			c.PrivateKey = b
		default:
			errs = append(errs, fmt.Errorf("%s is set: set %s or %s too", envAppID, envAppPrivateKey, envAppPrivateKeyPath))
		}
	}
	if c.Token == "" && c.AppID == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("set %s, or %s with %s or %s, for the bot to act on GitHub", envGitHubToken, envAppID, envAppPrivateKey, envAppPrivateKeyPath))
	}
	if c.Token != "" && c.AppID != 0 {
		errs = append(errs, fmt.Errorf("set %s or %s, not both", envGitHubToken, envAppID))
	}
	return c, errors.Join(errs...)
}

// autoPlanEnvs reads ESM_AUTOPLAN: empty or false for none, true or all
// for every environment, else a comma-separated list of environments.
func autoPlanEnvs(s string, conf *config.Config) ([]string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "off", "none":
		return nil, nil
	case "true", "on", "all":
		return conf.EnvNames(), nil
	}
	var envs []string
	var errs []error
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if _, err := conf.Env(e); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", envAutoPlan, err))
			continue
		}
		envs = append(envs, e)
	}
	return envs, errors.Join(errs...)
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
	stores := &storeCache{stateDir: bc.stateDir, getenv: bc.getenv, stores: map[string]monitor.Store{}}
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
		Stores:          stores.open,
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
	stateDir string
	getenv   func(string) string
	opts     []storeOption
	mu       sync.Mutex
	stores   map[string]monitor.Store
}

func (c *storeCache) open(env string) (monitor.Store, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stores[env]; ok {
		return s, nil
	}
	s, _, err := openStore(env, c.stateDir, c.getenv, c.opts...)
	if err != nil {
		return nil, err
	}
	c.stores[env] = s
	return s, nil
}

// botEvents hands the webhook's events to the runner.
type botEvents struct{ r *reconcile.Runner }

func repoOf(r *gh.Repository, inst *gh.Installation) reconcile.Repo {
	return reconcile.Repo{Owner: r.GetOwner().GetLogin(), Name: r.GetName(), Installation: inst.GetID()}
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

// botConfigured reports whether any of the bot's own settings is set, so
// that "esm serve --role all" runs the bot only for those who asked.
func botConfigured(getenv func(string) string) bool {
	for _, k := range []string{envWebhookSecret, envAllowedRepos, envAppID} {
		if getenv(k) != "" {
			return true
		}
	}
	return false
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
		s, err := b.stores.open(env)
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
