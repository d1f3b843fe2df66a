// Package github is esm's adapter to GitHub's REST API, on go-github:
// the pull request, its changed files and the schema files at a SHA, the
// issue comments, reactions and commit statuses of the bot, collaborator
// permissions and reviews. Client implements forge.GitHub; each method
// is one GitHub operation and names its REST endpoint.
//
// Authentication is a token (GITHUB_TOKEN) or a GitHub App: the app's JWT
// signed with its private key, exchanged by ghinstallation for an
// installation token per installation (the installation comes with each
// webhook delivery). BaseURL points the client at GitHub Enterprise Server
// or a test server.
//
// Calls are retried, a bounded number of times and never past the
// context's end, on 5xx answers, transport errors, and primary and
// secondary rate limits (waiting for Retry-After or the reset time when
// GitHub says it).
package github

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"

	"github.com/esm-dev/esm/internal/forge"
	"github.com/esm-dev/esm/internal/redact"
)

// Defaults of Config.
const (
	DefaultMaxRetries   = 4
	DefaultRetryWait    = time.Second
	DefaultMaxRetryWait = time.Minute
	// perPage is the page size of list calls: GitHub's largest.
	perPage = 100
)

// Config configures a Client. Token or AppID with PrivateKey is required.
type Config struct {
	// Token is a personal access or GitHub Actions token (GITHUB_TOKEN).
	Token string
	// AppID and PrivateKey (PEM) authenticate as a GitHub App
	// (ESM_GITHUB_APP_ID, ESM_GITHUB_APP_PRIVATE_KEY or _PATH).
	AppID      int64
	PrivateKey []byte
	// BaseURL is GitHub Enterprise Server's address, such as
	// https://github.example.com/ or a test server's (ESM_GITHUB_URL);
	// empty means github.com. "api/v3/" is added when it is missing.
	BaseURL string
	// HTTPClient makes the requests; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// MaxRetries bounds the retries of one call (default 4; negative means
	// never).
	MaxRetries int
	// RetryWait is the first wait before a retry when GitHub does not say
	// how long to wait; it doubles with each retry (default 1 s).
	RetryWait time.Duration
	// MaxRetryWait caps every wait; a rate limit that asks for longer
	// fails the call at once (default 1 min).
	MaxRetryWait time.Duration
	// Logger receives a line per retry, logged with the call's context;
	// nil discards them. Tokens and keys are never logged.
	Logger *slog.Logger
}

// Client is the GitHub adapter. It is safe for concurrent use.
type Client struct {
	cfg     Config
	log     *slog.Logger
	base    *http.Client
	apiBase string // such as https://api.github.com, without the final slash

	token *gh.Client // with a token
	app   *gh.Client // as the app itself (JWT), with an app

	mu      sync.Mutex
	byInst  map[int64]*gh.Client // installation clients, with an app
	instFor map[string]int64     // installation of owner/name, when found by the API
}

var _ forge.GitHub = (*Client)(nil)

// New checks cfg and returns a Client. Every problem is reported.
func New(cfg Config) (*Client, error) {
	var errs []error
	switch {
	case cfg.Token != "" && cfg.AppID != 0:
		errs = append(errs, errors.New("set either a GitHub token or a GitHub App, not both"))
	case cfg.Token == "" && cfg.AppID == 0:
		errs = append(errs, errors.New("a GitHub token or a GitHub App (app id and private key) is required"))
	case cfg.AppID != 0 && len(cfg.PrivateKey) == 0:
		errs = append(errs, errors.New("the GitHub App's private key is required"))
	case cfg.AppID != 0:
		if err := checkPrivateKey(cfg.PrivateKey); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = DefaultRetryWait
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = DefaultMaxRetryWait
	}
	c := &Client{cfg: cfg, log: cfg.Logger, base: cfg.HTTPClient, byInst: map[int64]*gh.Client{}, instFor: map[string]int64{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.base == nil {
		c.base = &http.Client{Timeout: 30 * time.Second}
	}
	// Credentials in the URL go as basic authentication (as net/http sends
	// them), so that no error or log line of go-github can print them.
	c.cfg.BaseURL, c.base = redact.Userinfo(c.cfg.BaseURL, c.base)
	probe, err := c.newClient(c.base)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c.apiBase = strings.TrimSuffix(probe.BaseURL.String(), "/")
	if cfg.Token != "" {
		c.token = probe.WithAuthToken(cfg.Token)
		return c, nil
	}
	atr, err := ghinstallation.NewAppsTransport(c.transport(), cfg.AppID, cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("github app: %w", err)
	}
	atr.BaseURL = c.apiBase
	c.app, err = c.newClient(&http.Client{Transport: atr, Timeout: c.base.Timeout})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// checkPrivateKey reports a key that is not a PEM RSA private key.
func checkPrivateKey(key []byte) error {
	block, _ := pem.Decode(key)
	if block == nil {
		return errors.New("the GitHub App's private key is not PEM")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		if _, err2 := x509.ParsePKCS8PrivateKey(block.Bytes); err2 != nil {
			return fmt.Errorf("the GitHub App's private key is not an RSA private key: %w", err)
		}
	}
	return nil
}

func (c *Client) transport() http.RoundTripper {
	if c.base.Transport != nil {
		return c.base.Transport
	}
	return http.DefaultTransport
}

// newClient returns a go-github client on hc, at BaseURL when set.
func (c *Client) newClient(hc *http.Client) (*gh.Client, error) {
	client := gh.NewClient(hc)
	if c.cfg.BaseURL == "" {
		return client, nil
	}
	client, err := client.WithEnterpriseURLs(c.cfg.BaseURL, c.cfg.BaseURL)
	if err != nil {
		var ue *url.Error // it repeats the URL
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("github url %q: %w", redact.URL(c.cfg.BaseURL), err)
	}
	return client, nil
}

// client returns the client that acts on repo: the token's, or the
// installation's (found with GET /repos/{owner}/{repo}/installation when
// the event did not carry it).
func (c *Client) client(ctx context.Context, repo forge.Repo) (*gh.Client, error) {
	if c.token != nil {
		return c.token, nil
	}
	inst := repo.Installation
	c.mu.Lock()
	if inst == 0 {
		inst = c.instFor[strings.ToLower(repo.String())]
	}
	c.mu.Unlock()
	if inst == 0 {
		var found *gh.Installation
		err := c.retry(ctx, "find repository installation", func() (*gh.Response, error) {
			var resp *gh.Response
			var err error
			found, resp, err = c.app.Apps.FindRepositoryInstallation(ctx, repo.Owner, repo.Name)
			return resp, err
		})
		if err != nil {
			return nil, fmt.Errorf("find the app's installation on %s: %w", repo, err)
		}
		inst = found.GetID()
		c.mu.Lock()
		c.instFor[strings.ToLower(repo.String())] = inst
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.byInst[inst]; ok {
		return cl, nil
	}
	itr, err := ghinstallation.New(c.transport(), c.cfg.AppID, inst, c.cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("github app installation %d: %w", inst, err)
	}
	itr.BaseURL = c.apiBase
	cl, err := c.newClient(&http.Client{Transport: itr, Timeout: c.base.Timeout})
	if err != nil {
		return nil, err
	}
	c.byInst[inst] = cl
	return cl, nil
}

// Login returns the login the bot comments as: the token's user (GET
// /user), or the app's bot user "<slug>[bot]" (GET /app).
func (c *Client) Login(ctx context.Context) (string, error) {
	if c.token != nil {
		var u *gh.User
		err := c.retry(ctx, "get the authenticated user", func() (resp *gh.Response, err error) {
			u, resp, err = c.token.Users.Get(ctx, "")
			return resp, err
		})
		if err != nil {
			return "", fmt.Errorf("get the authenticated user: %w", err)
		}
		return u.GetLogin(), nil
	}
	var app *gh.App
	err := c.retry(ctx, "get the authenticated app", func() (resp *gh.Response, err error) {
		app, resp, err = c.app.Apps.Get(ctx, "")
		return resp, err
	})
	if err != nil {
		return "", fmt.Errorf("get the authenticated app: %w", err)
	}
	return app.GetSlug() + "[bot]", nil
}

// PullRequest calls GET /repos/{owner}/{repo}/pulls/{pull_number}.
func (c *Client) PullRequest(ctx context.Context, repo forge.Repo, number int) (*forge.PullRequest, error) {
	cl, err := c.client(ctx, repo)
	if err != nil {
		return nil, err
	}
	var pr *gh.PullRequest
	err = c.retry(ctx, "get pull request", func() (resp *gh.Response, err error) {
		pr, resp, err = cl.PullRequests.Get(ctx, repo.Owner, repo.Name, number)
		return resp, err
	})
	if err != nil {
		return nil, fmt.Errorf("get pull request %s#%d: %w", repo, number, err)
	}
	return &forge.PullRequest{
		Number:  pr.GetNumber(),
		HeadSHA: pr.GetHead().GetSHA(),
		BaseSHA: pr.GetBase().GetSHA(),
		State:   pr.GetState(),
		Draft:   pr.GetDraft(),
		Author:  pr.GetUser().GetLogin(),
	}, nil
}

// ListPullRequestFiles calls GET /repos/{owner}/{repo}/pulls/{pull_number}/files,
// every page (GitHub lists at most 3,000 files).
func (c *Client) ListPullRequestFiles(ctx context.Context, repo forge.Repo, number int) ([]forge.ChangedFile, error) {
	cl, err := c.client(ctx, repo)
	if err != nil {
		return nil, err
	}
	var out []forge.ChangedFile
	err = paginate(ctx, c, "list pull request files", func(opts *gh.ListOptions) (*gh.Response, error) {
		files, resp, err := cl.PullRequests.ListFiles(ctx, repo.Owner, repo.Name, number, opts)
		for _, f := range files {
			out = append(out, forge.ChangedFile{Path: f.GetFilename(), PreviousPath: f.GetPreviousFilename(), Status: f.GetStatus()})
		}
		return resp, err
	})
	if err != nil {
		return nil, fmt.Errorf("list files of pull request %s#%d: %w", repo, number, err)
	}
	return out, nil
}

// ListReviews calls GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews,
// every page.
func (c *Client) ListReviews(ctx context.Context, repo forge.Repo, number int) ([]forge.Review, error) {
	cl, err := c.client(ctx, repo)
	if err != nil {
		return nil, err
	}
	var out []forge.Review
	err = paginate(ctx, c, "list reviews", func(opts *gh.ListOptions) (*gh.Response, error) {
		reviews, resp, err := cl.PullRequests.ListReviews(ctx, repo.Owner, repo.Name, number, opts)
		for _, r := range reviews {
			out = append(out, forge.Review{Author: r.GetUser().GetLogin(), State: r.GetState()})
		}
		return resp, err
	})
	if err != nil {
		return nil, fmt.Errorf("list reviews of pull request %s#%d: %w", repo, number, err)
	}
	return out, nil
}

// FileContents calls GET /repos/{owner}/{repo}/contents/{path}?ref={ref}
// with the raw media type, which serves files up to 100 MB. A file that
// does not exist at ref is an error wrapping fs.ErrNotExist.
func (c *Client) FileContents(ctx context.Context, repo forge.Repo, path, ref string) ([]byte, error) {
	cl, err := c.client(ctx, repo)
	if err != nil {
		return nil, err
	}
	u := fmt.Sprintf("repos/%s/%s/contents/%s?ref=%s", repo.Owner, repo.Name, escapePath(path), queryEscape(ref))
	var buf strings.Builder
	err = c.retry(ctx, "get file contents", func() (*gh.Response, error) {
		req, err := cl.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, permanent{err}
		}
		req.Header.Set("Accept", "application/vnd.github.raw")
		buf.Reset()
		return cl.Do(ctx, req, &buf)
	})
	if isStatus(err, http.StatusNotFound) {
		return nil, fmt.Errorf("get %s at %s in %s: %w", path, ref, repo, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s at %s in %s: %w", path, ref, repo, err)
	}
	return []byte(buf.String()), nil
}

// ListIssueComments calls GET /repos/{owner}/{repo}/issues/{issue_number}/comments,
// every page, oldest first.
func (c *Client) ListIssueComments(ctx context.Context, repo forge.Repo, number int) ([]forge.Comment, error) {
	cl, err := c.client(ctx, repo)
	if err != nil {
		return nil, err
	}
	var out []forge.Comment
	err = paginate(ctx, c, "list issue comments", func(opts *gh.ListOptions) (*gh.Response, error) {
		comments, resp, err := cl.Issues.ListComments(ctx, repo.Owner, repo.Name, number, &gh.IssueListCommentsOptions{ListOptions: *opts})
		for _, cm := range comments {
			out = append(out, forge.Comment{ID: cm.GetID(), Body: cm.GetBody(), Author: cm.GetUser().GetLogin(), AuthorType: cm.GetUser().GetType()})
		}
		return resp, err
	})
	if err != nil {
		return nil, fmt.Errorf("list comments of %s#%d: %w", repo, number, err)
	}
	return out, nil
}

// CreateIssueComment calls POST /repos/{owner}/{repo}/issues/{issue_number}/comments
// and returns the new comment's id. It is not retried after an answer
// that may follow a write (5xx, a broken connection), so that a comment is
// never posted twice.
func (c *Client) CreateIssueComment(ctx context.Context, repo forge.Repo, number int, body string) (int64, error) {
	cl, err := c.client(ctx, repo)
	if err != nil {
		return 0, err
	}
	var cm *gh.IssueComment
	err = c.retryIf(ctx, "create issue comment", onlyRateLimits, func() (resp *gh.Response, err error) {
		cm, resp, err = cl.Issues.CreateComment(ctx, repo.Owner, repo.Name, number, &gh.IssueComment{Body: gh.String(body)})
		return resp, err
	})
	if err != nil {
		return 0, fmt.Errorf("comment on %s#%d: %w", repo, number, err)
	}
	return cm.GetID(), nil
}

// EditIssueComment calls PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}.
func (c *Client) EditIssueComment(ctx context.Context, repo forge.Repo, id int64, body string) error {
	cl, err := c.client(ctx, repo)
	if err != nil {
		return err
	}
	err = c.retry(ctx, "edit issue comment", func() (resp *gh.Response, err error) {
		_, resp, err = cl.Issues.EditComment(ctx, repo.Owner, repo.Name, id, &gh.IssueComment{Body: gh.String(body)})
		return resp, err
	})
	if err != nil {
		return fmt.Errorf("edit comment %d on %s: %w", id, repo, err)
	}
	return nil
}

// CreateCommentReaction calls POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions
// with a reaction such as "eyes", "rocket" or "confused"; the same
// reaction twice is one reaction.
func (c *Client) CreateCommentReaction(ctx context.Context, repo forge.Repo, commentID int64, reaction string) error {
	cl, err := c.client(ctx, repo)
	if err != nil {
		return err
	}
	err = c.retry(ctx, "create reaction", func() (resp *gh.Response, err error) {
		_, resp, err = cl.Reactions.CreateIssueCommentReaction(ctx, repo.Owner, repo.Name, commentID, reaction)
		return resp, err
	})
	if err != nil {
		return fmt.Errorf("react %s to comment %d on %s: %w", reaction, commentID, repo, err)
	}
	return nil
}

// ListCommentReactions calls GET /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions,
// every page.
func (c *Client) ListCommentReactions(ctx context.Context, repo forge.Repo, commentID int64) ([]forge.Reaction, error) {
	cl, err := c.client(ctx, repo)
	if err != nil {
		return nil, err
	}
	var out []forge.Reaction
	err = paginate(ctx, c, "list reactions", func(opts *gh.ListOptions) (*gh.Response, error) {
		reactions, resp, err := cl.Reactions.ListIssueCommentReactions(ctx, repo.Owner, repo.Name, commentID, opts)
		for _, x := range reactions {
			out = append(out, forge.Reaction{Content: x.GetContent(), User: x.GetUser().GetLogin()})
		}
		return resp, err
	})
	if err != nil {
		return nil, fmt.Errorf("list reactions to comment %d on %s: %w", commentID, repo, err)
	}
	return out, nil
}

// CreateStatus calls POST /repos/{owner}/{repo}/statuses/{sha}.
func (c *Client) CreateStatus(ctx context.Context, repo forge.Repo, sha string, s forge.CommitStatus) error {
	cl, err := c.client(ctx, repo)
	if err != nil {
		return err
	}
	st := &gh.RepoStatus{State: gh.String(s.State), Context: gh.String(s.Context), Description: gh.String(s.Description)}
	err = c.retry(ctx, "create status", func() (resp *gh.Response, err error) {
		_, resp, err = cl.Repositories.CreateStatus(ctx, repo.Owner, repo.Name, sha, st)
		return resp, err
	})
	if err != nil {
		return fmt.Errorf("set status %s on %s in %s: %w", s.Context, sha, repo, err)
	}
	return nil
}

// PermissionLevel calls GET /repos/{owner}/{repo}/collaborators/{username}/permission
// and returns admin, write, read or none ("maintain" is write and
// "triage" read there). A user GitHub does not know has none.
func (c *Client) PermissionLevel(ctx context.Context, repo forge.Repo, user string) (string, error) {
	cl, err := c.client(ctx, repo)
	if err != nil {
		return "", err
	}
	var p *gh.RepositoryPermissionLevel
	err = c.retry(ctx, "get permission level", func() (resp *gh.Response, err error) {
		p, resp, err = cl.Repositories.GetPermissionLevel(ctx, repo.Owner, repo.Name, user)
		return resp, err
	})
	if isStatus(err, http.StatusNotFound) {
		return "none", nil
	}
	if err != nil {
		return "", fmt.Errorf("get permission of %s on %s: %w", user, repo, err)
	}
	return p.GetPermission(), nil
}

// paginate calls list for each page until the last one.
func paginate(ctx context.Context, c *Client, op string, list func(*gh.ListOptions) (*gh.Response, error)) error {
	opts := &gh.ListOptions{PerPage: perPage}
	for {
		var resp *gh.Response
		err := c.retry(ctx, op, func() (*gh.Response, error) {
			var err error
			resp, err = list(opts)
			return resp, err
		})
		if err != nil {
			return err
		}
		if resp == nil || resp.NextPage == 0 {
			return nil
		}
		opts.Page = resp.NextPage
	}
}

// escapePath escapes each segment of a file path for a URL.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = pathEscape(s)
	}
	return strings.Join(segs, "/")
}
