package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/forge"
	"github.com/esm-dev/esm/internal/github/ghtest"
)

var shop = forge.Repo{Owner: "acme", Name: "shop"}

func newClient(t *testing.T, srv *ghtest.Server) *Client {
	t.Helper()
	c, err := New(Config{Token: "ghp_test", BaseURL: srv.URL, RetryWait: time.Millisecond, MaxRetryWait: time.Second})
	require.NoError(t, err)
	return c
}

// count returns how many requests the server answered for method and path.
func count(srv *ghtest.Server, method, path string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

func setupPR(srv *ghtest.Server) {
	srv.SetFiles("acme/shop", "base", map[string]string{"schemas/a.avdl": "old", "schemas/gone.avdl": "x", "README.md": "r"})
	srv.SetFiles("acme/shop", "head", map[string]string{"schemas/a.avdl": "new", "schemas/b.avdl": "b", "README.md": "r"})
	srv.SetPullRequest("acme/shop", ghtest.PullRequest{Number: 7, BaseSHA: "base", HeadSHA: "head", Author: "alice"})
}

func TestPullRequestAndFiles(t *testing.T) {
	srv := ghtest.NewServer(t)
	setupPR(srv)
	c := newClient(t, srv)
	ctx := context.Background()

	pr, err := c.PullRequest(ctx, shop, 7)
	require.NoError(t, err)
	assert.Equal(t, forge.PullRequest{Number: 7, HeadSHA: "head", BaseSHA: "base", State: "open", Author: "alice"}, *pr)

	files, err := c.ListPullRequestFiles(ctx, shop, 7)
	require.NoError(t, err)
	assert.Equal(t, []forge.ChangedFile{
		{Path: "schemas/a.avdl", Status: "modified"},
		{Path: "schemas/b.avdl", Status: "added"},
		{Path: "schemas/gone.avdl", Status: "removed"},
	}, files)

	_, err = c.PullRequest(ctx, shop, 8)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "get pull request acme/shop#8")
	assert.Contains(t, err.Error(), "404 Not Found")
}

func TestListFilesPaginatesAndKeepsRenames(t *testing.T) {
	srv := ghtest.NewServer(t)
	var files []ghtest.File
	for i := range 250 {
		files = append(files, ghtest.File{Filename: fmt.Sprintf("schemas/f%03d.avdl", i), Status: "modified"})
	}
	files = append(files, ghtest.File{Filename: "schemas/new.avdl", PreviousFilename: "schemas/old.avdl", Status: "renamed"})
	srv.SetPullRequest("acme/shop", ghtest.PullRequest{Number: 1, HeadSHA: "h", BaseSHA: "b", Files: files})
	got, err := newClient(t, srv).ListPullRequestFiles(context.Background(), shop, 1)
	require.NoError(t, err)
	require.Len(t, got, 251)
	assert.Equal(t, forge.ChangedFile{Path: "schemas/new.avdl", PreviousPath: "schemas/old.avdl", Status: "renamed"}, got[250])
	assert.Equal(t, 3, count(srv, "GET", "/repos/acme/shop/pulls/1/files"), "three pages of 100")
}

func TestFileContents(t *testing.T) {
	srv := ghtest.NewServer(t)
	setupPR(srv)
	srv.SetFiles("acme/shop", "odd", map[string]string{"schemas/with space #1.avdl": "odd name"})
	c := newClient(t, srv)
	ctx := context.Background()

	b, err := c.FileContents(ctx, shop, "schemas/a.avdl", "head")
	require.NoError(t, err)
	assert.Equal(t, "new", string(b))
	b, err = c.FileContents(ctx, shop, "schemas/a.avdl", "base")
	require.NoError(t, err)
	assert.Equal(t, "old", string(b))
	b, err = c.FileContents(ctx, shop, "schemas/with space #1.avdl", "odd")
	require.NoError(t, err)
	assert.Equal(t, "odd name", string(b))

	_, err = c.FileContents(ctx, shop, "schemas/gone.avdl", "head")
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "get schemas/gone.avdl at head in acme/shop")
	assert.Equal(t, 1, count(srv, "GET", "/repos/acme/shop/contents/schemas/gone.avdl"), "a 404 is not retried")
}

func TestComments(t *testing.T) {
	srv := ghtest.NewServer(t)
	setupPR(srv)
	c := newClient(t, srv)
	ctx := context.Background()
	userID := srv.AddComment("acme/shop", 7, "alice", "esm prod plan")
	for i := range 120 {
		_, err := c.CreateIssueComment(ctx, shop, 7, fmt.Sprintf("comment %d", i))
		require.NoError(t, err)
	}
	id, err := c.CreateIssueComment(ctx, shop, 7, "<!-- esm:prod:plan -->\nfirst")
	require.NoError(t, err)
	require.NoError(t, c.EditIssueComment(ctx, shop, id, "<!-- esm:prod:plan -->\nsecond"))

	list, err := c.ListIssueComments(ctx, shop, 7)
	require.NoError(t, err)
	require.Len(t, list, 122)
	assert.Equal(t, forge.Comment{ID: userID, Body: "esm prod plan", Author: "alice", AuthorType: "User"}, list[0])
	assert.Equal(t, forge.Comment{ID: id, Body: "<!-- esm:prod:plan -->\nsecond", Author: ghtest.BotLogin, AuthorType: "Bot"}, list[121])
	assert.Equal(t, 2, count(srv, "GET", "/repos/acme/shop/issues/7/comments"))

	_, err = c.CreateIssueComment(ctx, shop, 7, strings.Repeat("x", ghtest.MaxCommentLength+1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "422")
	assert.Error(t, c.EditIssueComment(ctx, shop, 999999, "x"))
}

func TestReactionsStatusesPermissionsReviews(t *testing.T) {
	srv := ghtest.NewServer(t)
	setupPR(srv)
	c := newClient(t, srv)
	ctx := context.Background()
	id := srv.AddComment("acme/shop", 7, "alice", "esm prod register")

	for _, r := range []string{forge.ReactionEyes, forge.ReactionEyes, forge.ReactionRocket} {
		require.NoError(t, c.CreateCommentReaction(ctx, shop, id, r))
	}
	assert.Equal(t, []string{"eyes", "rocket"}, srv.Reactions("acme/shop", id))
	assert.Error(t, c.CreateCommentReaction(ctx, shop, 424242, "eyes"))

	require.NoError(t, c.CreateStatus(ctx, shop, "head", forge.CommitStatus{Context: "esm/prod", State: "pending", Description: "running"}))
	assert.Equal(t, []ghtest.Status{{State: "pending", Context: "esm/prod", Description: "running"}}, srv.Statuses("acme/shop", "head"))

	srv.SetPermission("acme/shop", "alice", "write")
	p, err := c.PermissionLevel(ctx, shop, "alice")
	require.NoError(t, err)
	assert.Equal(t, "write", p)
	p, err = c.PermissionLevel(ctx, shop, "mallory")
	require.NoError(t, err)
	assert.Equal(t, "read", p)

	srv.AddReview("acme/shop", 7, "bob", "APPROVED")
	reviews, err := c.ListReviews(ctx, shop, 7)
	require.NoError(t, err)
	assert.Equal(t, []forge.Review{{Author: "bob", State: "APPROVED"}}, reviews)

	login, err := c.Login(ctx)
	require.NoError(t, err)
	assert.Equal(t, ghtest.BotLogin, login)
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   http.Header
		body     string
		failures int
		ok       bool
		requests int
	}{
		{"502 then ok", http.StatusBadGateway, nil, "", 2, true, 3},
		{"secondary rate limit with Retry-After", http.StatusForbidden, http.Header{"Retry-After": {"0"}}, ghtest.SecondaryRateLimitBody, 1, true, 2},
		{"secondary rate limit without Retry-After", http.StatusForbidden, nil, ghtest.SecondaryRateLimitBody, 1, true, 2},
		{"abuse message only", http.StatusForbidden, nil, `{"message":"You have triggered an abuse detection mechanism."}`, 1, true, 2},
		{"429 with Retry-After", http.StatusTooManyRequests, http.Header{"Retry-After": {"0"}}, "", 1, true, 2},
		{"primary rate limit", http.StatusForbidden, http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Limit": {"5000"},
			"X-Ratelimit-Reset": {fmt.Sprint(time.Now().Unix())}}, `{"message":"API rate limit exceeded"}`, 1, true, 2},
		{"Retry-After beyond the cap", http.StatusForbidden, http.Header{"Retry-After": {"3600"}}, ghtest.SecondaryRateLimitBody, 1, false, 1},
		{"plain 403", http.StatusForbidden, nil, `{"message":"Resource not accessible by integration"}`, 1, false, 1},
		{"500 for ever", http.StatusInternalServerError, nil, "", 10, false, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := ghtest.NewServer(t)
			setupPR(srv)
			c := newClient(t, srv)
			srv.FailNext(tt.failures, tt.status, tt.header, tt.body)
			_, err := c.PullRequest(context.Background(), shop, 7)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
			assert.Equal(t, tt.requests, count(srv, "GET", "/repos/acme/shop/pulls/7"))
		})
	}
}

func TestCreateCommentIsNotRetriedAfterA5xx(t *testing.T) {
	srv := ghtest.NewServer(t)
	setupPR(srv)
	c := newClient(t, srv)
	srv.FailNext(1, http.StatusBadGateway, nil, "")
	_, err := c.CreateIssueComment(context.Background(), shop, 7, "hello")
	require.Error(t, err)
	assert.Equal(t, 1, count(srv, "POST", "/repos/acme/shop/issues/7/comments"))

	// A secondary rate limit refused the request: it is retried.
	srv.FailNext(1, http.StatusForbidden, http.Header{"Retry-After": {"0"}}, ghtest.SecondaryRateLimitBody)
	_, err = c.CreateIssueComment(context.Background(), shop, 7, "hello")
	require.NoError(t, err)
	assert.Len(t, srv.BotComments("acme/shop", 7), 1)
}

func TestRetryStopsWithTheContext(t *testing.T) {
	srv := ghtest.NewServer(t)
	setupPR(srv)
	c, err := New(Config{Token: "t", BaseURL: srv.URL, RetryWait: time.Hour, MaxRetryWait: time.Hour})
	require.NoError(t, err)
	srv.FailNext(1, http.StatusServiceUnavailable, nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.PullRequest(ctx, shop, 7)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestGitHubApp(t *testing.T) {
	srv := ghtest.NewServer(t)
	setupPR(srv)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	c, err := New(Config{AppID: 42, PrivateKey: pemKey, BaseURL: srv.URL})
	require.NoError(t, err)
	ctx := context.Background()

	login, err := c.Login(ctx)
	require.NoError(t, err)
	assert.Equal(t, ghtest.BotLogin, login)

	// With the installation from the webhook payload.
	pr, err := c.PullRequest(ctx, forge.Repo{Owner: "acme", Name: "shop", Installation: 77}, 7)
	require.NoError(t, err)
	assert.Equal(t, "head", pr.HeadSHA)
	assert.Equal(t, 1, count(srv, "POST", "/app/installations/77/access_tokens"))
	// Without it, the installation is looked up once.
	for range 2 {
		_, err = c.PullRequest(ctx, shop, 7)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, count(srv, "GET", "/repos/acme/shop/installation"))
	assert.Equal(t, 1, count(srv, "POST", "/app/installations/1/access_tokens"), "the installation token is reused")
}

func TestNewReportsEveryProblem(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "a GitHub token or a GitHub App"},
		{Config{Token: "t", AppID: 1}, "not both"},
		{Config{AppID: 1}, "private key is required"},
		{Config{AppID: 1, PrivateKey: []byte("nope")}, "not PEM"},
		{Config{Token: "t", BaseURL: "::bad"}, "github url"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
	}
}
