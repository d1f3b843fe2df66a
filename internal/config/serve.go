package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/esm-dev/esm/annotations"
)

// Serve holds the settings of "esm serve": the server, its limits, the
// collector's DogStatsD and Datadog events, and the GitHub bot. ReadServe
// fills it from the flags given on the command line, the environment and
// the defaults of ServeSettings, in that order of precedence.
type Serve struct {
	// Role is what runs: collector, bot, queries or all.
	Role string
	// Queries is the directory of the query files (the queries role).
	Queries string
	// Listen is the server's host:port.
	Listen string
	// Env names the environment: the value of the env label and tag.
	Env string
	// ConfigFile is the esm.yaml to read ("" for esm.yaml when present).
	ConfigFile string
	// Schemas is the directory of the record schemas.
	Schemas string
	// MaxBody is the largest request body, in bytes.
	MaxBody int64
	// Statsd is the DogStatsD agent's host:port, "off", or "" for
	// $DD_AGENT_HOST:$DD_DOGSTATSD_PORT.
	Statsd string
	// ReloadDebounce is how long the last schema file change settles
	// before the schemas are reloaded.
	ReloadDebounce time.Duration
	// RejectionBurst is how many rejections of one type within
	// RejectionWindow make a Datadog event.
	RejectionBurst int
	// RejectionWindow is the window rejections are counted in.
	RejectionWindow time.Duration
	// ReadTimeout bounds the arrival of a request's headers and body.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from a request's headers to the end of
	// its answer.
	WriteTimeout time.Duration
	// IdleTimeout bounds the wait of a kept-alive connection for its next
	// request.
	IdleTimeout time.Duration
	// MaxConnections is how many connections may be open at once.
	MaxConnections int
	// MaxInflightBody is how many bytes the request bodies in flight may
	// hold together.
	MaxInflightBody int64

	// DatadogAPIKey turns Datadog events on, and with DatadogAppKey the
	// bot's Datadog store.
	DatadogAPIKey Secret
	// DatadogAppKey is the Datadog application key of the bot's store.
	DatadogAppKey Secret
	// DatadogSite is the Datadog site ("" for datadoghq.com).
	DatadogSite string
	// DatadogURL is a full base URL of Datadog's API, for a proxy.
	DatadogURL string

	// Bot holds the GitHub bot's settings.
	Bot ServeBot

	// values are the settings' values as read (flag, environment or
	// default), by environment variable; given records which were given
	// rather than defaulted.
	values map[string]string
	given  map[string]bool
}

// ServeBot holds the settings of the GitHub bot of "esm serve".
type ServeBot struct {
	// StateDir is the directory of the local state files.
	StateDir string
	// AutoPlan lists the environments planned automatically, as written
	// (see AutoPlanEnvs).
	AutoPlan string
	// RequireApproval makes register take only approved pull requests.
	RequireApproval bool
	// MaxCommentAge is the age beyond which a command comment is ignored.
	MaxCommentAge time.Duration
	// WebhookSecret is the secret of the GitHub webhook.
	WebhookSecret Secret
	// AllowedRepos is the allow-list as written: owner/name or owner/*,
	// comma-separated.
	AllowedRepos string
	// GitHubToken is a GitHub token; or use a GitHub App.
	GitHubToken Secret
	// GitHubAppID is the GitHub App's id (0 for none).
	GitHubAppID int64
	// GitHubAppPrivateKey is the App's private key, given inline or read
	// from GitHubAppPrivateKeyPath.
	GitHubAppPrivateKey Secret
	// GitHubAppPrivateKeyPath is the file of the App's private key.
	GitHubAppPrivateKeyPath string
	// GitHubURL is GitHub Enterprise's base URL ("" for github.com).
	GitHubURL string
}

// Secret is a setting that must not be printed: fmt and log/slog show
// "xxxxx" for it (nothing when empty). Reveal returns the value.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns "xxxxx", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "xxxxx"
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalText is String, for encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ServeSetting is one setting of "esm serve": its flag, its environment
// variable, its default and how its value is read.
type ServeSetting struct {
	// Name names the setting in the documentation: its flag's name, or
	// for a setting only the environment gives, its variable's.
	Name string
	// Flag is the flag's name without dashes; "" when only the
	// environment gives it (secrets, credentials).
	Flag string
	// Env is the environment variable.
	Env string
	// Default is the value used when neither the flag nor the variable
	// is given, as one would type it.
	Default string
	// DefaultDoc says what applies when Default is "" and that means more
	// than nothing.
	DefaultDoc string
	// Help is the flag's help text (a `NAME` in backquotes names its
	// value).
	Help string
	// Kind is the kind of value: string, duration, int, size or bool.
	Kind string
	// Bot marks the bot's settings: checked only when the bot runs.
	Bot bool
	// Hidden marks values never printed, not even in errors: secrets, and
	// URLs that may carry credentials.
	Hidden bool

	parse func(s *Serve, v string) error
}

// Label names the setting in messages: "--flag / ENV", or "ENV" alone.
func (st ServeSetting) Label() string {
	if st.Flag == "" {
		return st.Env
	}
	return "--" + st.Flag + " / " + st.Env
}

// DocDefault is the default as the documentation shows it.
func (st ServeSetting) DocDefault() string {
	if st.Default == "" {
		return st.DefaultDoc
	}
	return "`" + st.Default + "`"
}

// The kinds of ServeSetting.Kind.
const (
	KindString   = "string"
	KindDuration = "duration"
	KindInt      = "int"
	KindSize     = "size"
	KindBool     = "bool"
)

// The roles of "esm serve".
const (
	RoleCollector = "collector"
	RoleBot       = "bot"
	RoleQueries   = "queries"
	RoleAll       = "all"
)

// The environment variables the bot's requirements name.
const (
	envWebhookSecret = "ESM_WEBHOOK_SECRET"
	envAllowedRepos  = "ESM_ALLOWED_REPOS"
	envGitHubToken   = "GITHUB_TOKEN"
	envAppID         = "ESM_GITHUB_APP_ID"
	envAppKey        = "ESM_GITHUB_APP_PRIVATE_KEY"
	envAppKeyPath    = "ESM_GITHUB_APP_PRIVATE_KEY_PATH"
	envAutoPlan      = "ESM_AUTOPLAN"
)

// serveSettings is the table of "esm serve"'s settings.
var serveSettings = []ServeSetting{
	{Name: "role", Flag: "role", Env: "ESM_ROLE", Default: RoleAll, Kind: KindString,
		Help:  "what to run: collector, bot, queries or all",
		parse: oneOf(func(s *Serve) *string { return &s.Role }, RoleCollector, RoleBot, RoleQueries, RoleAll)},
	{Name: "listen", Flag: "listen", Env: "ESM_LISTEN", Default: ":8080", Kind: KindString,
		Help:  "listen on `ADDR`",
		parse: hostPort(func(s *Serve) *string { return &s.Listen })},
	{Name: "env", Flag: "env", Env: "ESM_ENV", Default: "prod", Kind: KindString,
		Help:  "environment `NAME`: the value of the env label and tag",
		parse: text(func(s *Serve) *string { return &s.Env })},
	{Name: "config", Flag: "config", Env: "ESM_CONFIG", DefaultDoc: "esm.yaml when it exists", Kind: KindString,
		Help:  "read settings from `FILE`",
		parse: text(func(s *Serve) *string { return &s.ConfigFile })},
	{Name: "schemas", Flag: "schemas", Env: "ESM_SCHEMAS", Default: "schemas", Kind: KindString,
		Help:  "load the record schemas under `DIR`",
		parse: text(func(s *Serve) *string { return &s.Schemas })},
	{Name: "queries", Flag: "queries", Env: "ESM_QUERIES", Default: "queries", Kind: KindString,
		Help:  "run the query monitors of the query files under `DIR`",
		parse: text(func(s *Serve) *string { return &s.Queries })},
	{Name: "max-body", Flag: "max-body", Env: "ESM_MAX_BODY", Default: "1MiB", Kind: KindSize,
		Help:  "largest request body, in bytes or with KiB/MiB",
		parse: size(func(s *Serve) *int64 { return &s.MaxBody })},
	{Name: "statsd", Flag: "statsd", Env: "ESM_STATSD_ADDR", DefaultDoc: "$DD_AGENT_HOST:$DD_DOGSTATSD_PORT", Kind: KindString,
		Help:  "DogStatsD agent `ADDR`, or off",
		parse: statsd},
	{Name: "reload-debounce", Flag: "reload-debounce", Env: "ESM_RELOAD_DEBOUNCE", Default: "500ms", Kind: KindDuration,
		Help:  "wait this long after the last schema or query file change before reloading",
		parse: duration(func(s *Serve) *time.Duration { return &s.ReloadDebounce })},
	{Name: "rejection-burst", Flag: "rejection-burst", Env: "ESM_REJECTION_BURST", Default: "100", Kind: KindInt,
		Help:  "rejections of one type within one window that make a Datadog event",
		parse: count(func(s *Serve) *int { return &s.RejectionBurst })},
	{Name: "rejection-window", Flag: "rejection-window", Env: "ESM_REJECTION_WINDOW", Default: "1m", Kind: KindDuration,
		Help:  "window in which rejections are counted for a Datadog event",
		parse: duration(func(s *Serve) *time.Duration { return &s.RejectionWindow })},
	{Name: "read-timeout", Flag: "read-timeout", Env: "ESM_READ_TIMEOUT", Default: "30s", Kind: KindDuration,
		Help:  "time a request's headers and body may take to arrive",
		parse: duration(func(s *Serve) *time.Duration { return &s.ReadTimeout })},
	{Name: "write-timeout", Flag: "write-timeout", Env: "ESM_WRITE_TIMEOUT", Default: "30s", Kind: KindDuration,
		Help:  "time from a request's headers to the end of its answer",
		parse: duration(func(s *Serve) *time.Duration { return &s.WriteTimeout })},
	{Name: "idle-timeout", Flag: "idle-timeout", Env: "ESM_IDLE_TIMEOUT", Default: "2m", Kind: KindDuration,
		Help:  "time a kept-alive connection may wait for its next request",
		parse: duration(func(s *Serve) *time.Duration { return &s.IdleTimeout })},
	{Name: "max-connections", Flag: "max-connections", Env: "ESM_MAX_CONNECTIONS", Default: "1024", Kind: KindInt,
		Help:  "connections open at once; more wait to be accepted",
		parse: count(func(s *Serve) *int { return &s.MaxConnections })},
	{Name: "max-inflight-body", Flag: "max-inflight-body", Env: "ESM_MAX_INFLIGHT_BODY", Default: "64MiB", Kind: KindSize,
		Help:  "bytes the request bodies in flight may hold together, at least --max-body",
		parse: size(func(s *Serve) *int64 { return &s.MaxInflightBody })},
	{Name: "datadog-api-key", Env: "DD_API_KEY", DefaultDoc: "none: no Datadog events, and the bot uses the local state files", Kind: KindString, Hidden: true,
		parse: secret(func(s *Serve) *Secret { return &s.DatadogAPIKey })},
	{Name: "datadog-app-key", Env: "DD_APP_KEY", DefaultDoc: "none", Kind: KindString, Hidden: true,
		parse: secret(func(s *Serve) *Secret { return &s.DatadogAppKey })},
	{Name: "datadog-site", Env: "DD_SITE", DefaultDoc: "datadoghq.com", Kind: KindString,
		parse: text(func(s *Serve) *string { return &s.DatadogSite })},
	{Name: "datadog-url", Env: "ESM_DATADOG_URL", DefaultDoc: "the site's API", Kind: KindString, Hidden: true,
		parse: text(func(s *Serve) *string { return &s.DatadogURL })},

	{Name: "state-dir", Flag: "state-dir", Env: "ESM_STATE_DIR", Default: ".esm/state", Kind: KindString, Bot: true,
		Help:  "bot: `DIR` of the local state files, used when DD_API_KEY and DD_APP_KEY are not set",
		parse: text(func(s *Serve) *string { return &s.Bot.StateDir })},
	{Name: "autoplan", Flag: "autoplan", Env: envAutoPlan, DefaultDoc: "none", Kind: KindString, Bot: true,
		Help:  "bot: plan these comma-separated `ENVS` (or all) when a pull request changes schemas",
		parse: text(func(s *Serve) *string { return &s.Bot.AutoPlan })},
	{Name: "require-approval", Flag: "require-approval", Env: "ESM_REQUIRE_APPROVAL", Default: "false", Kind: KindBool, Bot: true,
		Help:  "bot: register only approved pull requests",
		parse: boolean(func(s *Serve) *bool { return &s.Bot.RequireApproval })},
	{Name: "max-comment-age", Flag: "max-comment-age", Env: "ESM_MAX_COMMENT_AGE", Default: "5m0s", Kind: KindDuration, Bot: true,
		Help:  "bot: ignore a command comment created longer than `DURATION` before its delivery arrives, a replay or a late redelivery",
		parse: duration(func(s *Serve) *time.Duration { return &s.Bot.MaxCommentAge })},
	{Name: "webhook-secret", Env: envWebhookSecret, DefaultDoc: "none (required)", Kind: KindString, Bot: true, Hidden: true,
		parse: func(s *Serve, v string) error { s.Bot.WebhookSecret = Secret(v); return nil }},
	{Name: "allowed-repos", Env: envAllowedRepos, DefaultDoc: "none (required)", Kind: KindString, Bot: true,
		parse: text(func(s *Serve) *string { return &s.Bot.AllowedRepos })},
	{Name: "github-token", Env: envGitHubToken, DefaultDoc: "none", Kind: KindString, Bot: true, Hidden: true,
		parse: secret(func(s *Serve) *Secret { return &s.Bot.GitHubToken })},
	{Name: "github-app-id", Env: envAppID, DefaultDoc: "none", Kind: KindInt, Bot: true,
		parse: appID},
	{Name: "github-app-private-key", Env: envAppKey, DefaultDoc: "none", Kind: KindString, Bot: true, Hidden: true,
		parse: func(s *Serve, v string) error { s.Bot.GitHubAppPrivateKey = Secret(v); return nil }},
	{Name: "github-app-private-key-path", Env: envAppKeyPath, DefaultDoc: "none", Kind: KindString, Bot: true,
		parse: text(func(s *Serve) *string { return &s.Bot.GitHubAppPrivateKeyPath })},
	{Name: "github-url", Env: "ESM_GITHUB_URL", DefaultDoc: "github.com", Kind: KindString, Bot: true, Hidden: true,
		parse: baseURL(func(s *Serve) *string { return &s.Bot.GitHubURL })},
}

// ServeSettings returns the table of "esm serve"'s settings, in the order
// of its help.
func ServeSettings() []ServeSetting { return slices.Clone(serveSettings) }

// SettingError is a setting whose value is wrong.
type SettingError struct {
	// Setting is the setting at fault.
	Setting ServeSetting
	// Value is the value read; "" when the setting is Hidden.
	Value string
	// Problem says what is wrong, e.g. "is not a positive duration such
	// as 30s".
	Problem string
}

// Error returns `--flag / ENV: "value" problem`.
func (e *SettingError) Error() string {
	if e.Setting.Hidden {
		return e.Setting.Label() + ": " + e.Problem
	}
	return fmt.Sprintf("%s: %q %s", e.Setting.Label(), e.Value, e.Problem)
}

// ReadServe reads the settings of "esm serve". One rule decides each
// setting's value: the flag given on the command line (flags holds those,
// by flag name, as typed), else the environment variable when set and not
// empty (getenv is os.Getenv, or a fake in tests), else the default. The
// error lists every problem at once, each naming the flag and the
// variable; the bot's settings are checked only when the bot runs (see
// BotRuns). The returned settings are usable as far as they were read,
// so that callers can add their own checks to the list.
func ReadServe(flags map[string]string, getenv func(string) string) (*Serve, error) {
	s := &Serve{}
	s.defaults()
	var problems, botProblems []error
	for _, st := range serveSettings {
		v, ok := flags[st.Flag]
		if !ok || st.Flag == "" {
			v = getenv(st.Env)
			ok = v != ""
		}
		if !ok {
			continue
		}
		s.values[st.Env], s.given[st.Env] = v, true
		if err := st.parse(s, v); err != nil {
			e := &SettingError{Setting: st, Problem: err.Error()}
			if !st.Hidden {
				e.Value = v
			}
			if st.Bot {
				botProblems = append(botProblems, e)
			} else {
				problems = append(problems, e)
			}
		}
	}
	if s.BotRuns() {
		problems = append(problems, botProblems...)
	}
	problems = append(problems, s.validate()...)
	return s, errors.Join(problems...)
}

// defaults sets every setting to its default.
func (s *Serve) defaults() {
	*s = Serve{values: map[string]string{}, given: map[string]bool{}}
	for _, st := range serveSettings {
		s.values[st.Env] = st.Default
		if st.Default != "" {
			if err := st.parse(s, st.Default); err != nil {
				panic(fmt.Sprintf("config: the default of %s: %v", st.Label(), err)) // a mistake in the table, caught by its tests
			}
		}
	}
}

// validate checks what no single setting can: how settings go together,
// and the bot's requirements when it runs.
func (s *Serve) validate() []error {
	var errs []error
	if s.MaxInflightBody < s.MaxBody {
		errs = append(errs, &SettingError{Setting: setting("max-inflight-body"), Value: s.values["ESM_MAX_INFLIGHT_BODY"],
			Problem: fmt.Sprintf("is less than --max-body %q: one body would not fit", s.values["ESM_MAX_BODY"])})
	}
	if !s.BotRuns() {
		return errs
	}
	b := &s.Bot
	if b.WebhookSecret == "" {
		errs = append(errs, fmt.Errorf("%s is required: the secret of the GitHub webhook", envWebhookSecret))
	}
	if strings.TrimSpace(b.AllowedRepos) == "" {
		errs = append(errs, fmt.Errorf("%s (comma-separated owner/name or owner/*) is required", envAllowedRepos))
	}
	switch {
	case !s.given[envAppID]:
		if b.GitHubToken == "" {
			errs = append(errs, fmt.Errorf("set %s, or %s with %s or %s, for the bot to act on GitHub", envGitHubToken, envAppID, envAppKey, envAppKeyPath))
		}
	case b.GitHubToken != "":
		errs = append(errs, fmt.Errorf("set %s or %s, not both", envGitHubToken, envAppID))
	case b.GitHubAppPrivateKey != "" && b.GitHubAppPrivateKeyPath != "":
		errs = append(errs, fmt.Errorf("set %s or %s, not both", envAppKey, envAppKeyPath))
	case b.GitHubAppPrivateKeyPath != "":
		key, err := os.ReadFile(b.GitHubAppPrivateKeyPath)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", envAppKeyPath, err))
		}
		b.GitHubAppPrivateKey = Secret(key)
	case b.GitHubAppPrivateKey == "":
		errs = append(errs, fmt.Errorf("%s is set: set %s or %s too", envAppID, envAppKey, envAppKeyPath))
	}
	return errs
}

// setting returns the setting called name.
func setting(name string) ServeSetting {
	for _, st := range serveSettings {
		if st.Name == name {
			return st
		}
	}
	panic("config: no setting " + name)
}

// Getenv returns the value read for the setting of the environment
// variable name (given, or its default), or "" for a variable that is not
// a setting. It stands in for os.Getenv where a package reads variables
// itself (the Datadog store).
func (s *Serve) Getenv(name string) string { return s.values[name] }

// Given reports whether the setting of the environment variable name was
// given by its flag or the environment rather than defaulted.
func (s *Serve) Given(name string) bool { return s.given[name] }

// BotRuns reports whether the GitHub bot runs: with --role bot, and with
// --role all when any of its own settings (ESM_WEBHOOK_SECRET,
// ESM_ALLOWED_REPOS, ESM_GITHUB_APP_ID) is set.
func (s *Serve) BotRuns() bool {
	switch s.Role {
	case RoleBot:
		return true
	case RoleAll:
		return s.given[envWebhookSecret] || s.given[envAllowedRepos] || s.given[envAppID]
	}
	return false
}

// BotMissing returns what the bot needs and is not set, by the variables
// that set it.
func (s *Serve) BotMissing() []string {
	var missing []string
	if !s.given[envWebhookSecret] {
		missing = append(missing, envWebhookSecret)
	}
	if !s.given[envAllowedRepos] {
		missing = append(missing, envAllowedRepos)
	}
	if !s.given[envAppID] && !s.given[envGitHubToken] {
		missing = append(missing, envGitHubToken+" or "+envAppID)
	}
	return missing
}

// CollectorRuns reports whether the event collector runs: with --role
// collector and --role all.
func (s *Serve) CollectorRuns() bool { return s.Role == RoleCollector || s.Role == RoleAll }

// QueriesWanted reports whether the query monitors are to run: with
// --role queries, where a missing query is an error, and with --role all,
// where they run when there are query files and databases to run them
// on (decided by the caller, which reads them).
func (s *Serve) QueriesWanted() bool { return s.Role == RoleQueries || s.Role == RoleAll }

// Roles returns the roles that run of collector and bot; the caller adds
// queries when it runs (see QueriesWanted).
func (s *Serve) Roles() []string {
	var roles []string
	if s.CollectorRuns() {
		roles = append(roles, RoleCollector)
	}
	if s.BotRuns() {
		roles = append(roles, RoleBot)
	}
	return roles
}

// AutoPlanEnvs returns the environments of c the bot plans automatically:
// none for an empty ESM_AUTOPLAN (or false, off, none), all of them for
// true, on or all, else the comma-separated list, each a known
// environment.
func (b *ServeBot) AutoPlanEnvs(c *Config) ([]string, error) {
	switch strings.ToLower(strings.TrimSpace(b.AutoPlan)) {
	case "", "false", "off", "none":
		return nil, nil
	case "true", "on", "all":
		return c.EnvNames(), nil
	}
	var envs []string
	var errs []error
	for _, e := range strings.Split(b.AutoPlan, ",") {
		e = strings.TrimSpace(e)
		if _, err := c.Env(e); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", envAutoPlan, err))
			continue
		}
		envs = append(envs, e)
	}
	return envs, errors.Join(errs...)
}

// UnknownVariable is an ESM_ environment variable that is no setting of
// "esm serve", with the known variable closest to it.
type UnknownVariable struct {
	Name    string
	Closest string
}

// UnknownServeVariables returns the variables of environ (os.Environ's
// "NAME=value" lines) that start with ESM_, are not empty and are no
// setting, each with the closest known one: a mistyped ESM_WEBHOOK_SECRETS
// would otherwise silently leave the bot off.
func UnknownServeVariables(environ []string) []UnknownVariable {
	var known []string
	for _, st := range serveSettings {
		if strings.HasPrefix(st.Env, "ESM_") {
			known = append(known, st.Env)
		}
	}
	var out []UnknownVariable
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "ESM_") || value == "" || slices.Contains(known, name) {
			continue
		}
		u := UnknownVariable{Name: name}
		u.Closest, _ = annotations.Closest(name, known)
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b UnknownVariable) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// The parse functions of the settings: each sets its field from v or says
// what is wrong with v (the caller names the setting and the value).

func text(field func(*Serve) *string) func(*Serve, string) error {
	return func(s *Serve, v string) error { *field(s) = v; return nil }
}

func secret(field func(*Serve) *Secret) func(*Serve, string) error {
	return func(s *Serve, v string) error { *field(s) = Secret(strings.TrimSpace(v)); return nil }
}

func oneOf(field func(*Serve) *string, values ...string) func(*Serve, string) error {
	return func(s *Serve, v string) error {
		if !slices.Contains(values, v) {
			return fmt.Errorf("is not %s or %s", strings.Join(values[:len(values)-1], ", "), values[len(values)-1])
		}
		*field(s) = v
		return nil
	}
}

func hostPort(field func(*Serve) *string) func(*Serve, string) error {
	return func(s *Serve, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("is not host:port: %w", err)
		}
		*field(s) = v
		return nil
	}
}

func statsd(s *Serve, v string) error {
	if v != "" && v != "off" {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("is not host:port or off: %w", err)
		}
	}
	s.Statsd = v
	return nil
}

func duration(field func(*Serve) *time.Duration) func(*Serve, string) error {
	return func(s *Serve, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			return errors.New("is not a positive duration such as 30s")
		}
		*field(s) = d
		return nil
	}
}

func count(field func(*Serve) *int) func(*Serve, string) error {
	return func(s *Serve, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 {
			return errors.New("is not a positive number")
		}
		*field(s) = n
		return nil
	}
}

func size(field func(*Serve) *int64) func(*Serve, string) error {
	return func(s *Serve, v string) error {
		n, err := parseSize(v)
		if err != nil {
			return err
		}
		*field(s) = n
		return nil
	}
}

func boolean(field func(*Serve) *bool) func(*Serve, string) error {
	return func(s *Serve, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return errors.New("is not true or false")
		}
		*field(s) = b
		return nil
	}
}

func appID(s *Serve, v string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return errors.New("is not the app's numeric id")
	}
	s.Bot.GitHubAppID = n
	return nil
}

func baseURL(field func(*Serve) *string) func(*Serve, string) error {
	return func(s *Serve, v string) error {
		v = strings.TrimSpace(v)
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("is not an http or https URL such as https://github.example.com")
		}
		*field(s) = v
		return nil
	}
}

// parseSize reads a byte count: 1048576, 512KiB, 1MiB or 1GiB, at most
// 1 TiB.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, errors.New("is not a positive size such as 1048576, 512KiB or 1MiB")
	}
	return n * mult, nil
}
