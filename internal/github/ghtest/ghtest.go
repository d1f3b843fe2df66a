// Package ghtest is an in-memory fake of the part of GitHub's REST API the
// bot uses, for tests that drive the real go-github client (through
// internal/github) over HTTP. It answers as api.github.com does: the paths
// go-github calls, under / and under GitHub Enterprise's /api/v3/, JSON
// bodies shaped like GitHub's, 404 {"message":"Not Found"} for what does
// not exist, 422 for invalid input, pagination with per_page and page and
// a Link header, and ids assigned by the server.
//
// A test starts a server, sets up repositories, and points the code under
// test at its URL (ESM_GITHUB_URL):
//
//	srv := ghtest.NewServer(t)
//	srv.SetFiles("acme/shop", "base1", map[string]string{"schemas/a.avdl": "..."})
//	srv.SetFiles("acme/shop", "head1", map[string]string{"schemas/a.avdl": "..."})
//	srv.SetPullRequest("acme/shop", ghtest.PullRequest{Number: 7, BaseSHA: "base1", HeadSHA: "head1"})
//	id := srv.AddComment("acme/shop", 7, "octocat", "esm prod plan")
//	...
//	srv.Comments("acme/shop", 7) // what the bot posted
//
// # What it implements
//
//   - GET /user, GET /app, POST /app/installations/{id}/access_tokens,
//     GET /repos/{owner}/{repo}/installation (GitHub App authentication);
//   - GET /repos/{owner}/{repo}/pulls/{number}, .../pulls/{number}/files
//     (changed files computed from the trees at the base and head SHAs
//     unless the test lists them) and .../pulls/{number}/reviews;
//   - GET /repos/{owner}/{repo}/contents/{path}?ref= as JSON with base64
//     content, or raw with Accept: application/vnd.github.raw;
//   - GET and POST /repos/{owner}/{repo}/issues/{number}/comments (with
//     created_at) and
//     PATCH /repos/{owner}/{repo}/issues/comments/{id} (bodies over 65,536
//     characters get GitHub's 422);
//   - POST /repos/{owner}/{repo}/issues/comments/{id}/reactions (201 for a
//     new reaction, 200 for one the user already made) and GET of the
//     same path (paginated);
//   - POST /repos/{owner}/{repo}/statuses/{sha};
//   - GET /repos/{owner}/{repo}/collaborators/{username}/permission
//     (admin, write, read or none; read unless the test sets it).
//
// Every request needs an Authorization header, as GitHub's private
// repositories do; without one the answer is 401 "Requires
// authentication". FailNext answers the next requests with a status,
// headers and body of the test's choosing (a 502, a secondary rate limit
// with Retry-After ...).
package ghtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// BotLogin is the login of the comments the server's token writes, and
// AppSlug the app's slug: GitHub names an app's bot user "<slug>[bot]".
const (
	AppSlug  = "esm-bot"
	BotLogin = AppSlug + "[bot]"
)

// MaxCommentLength is GitHub's limit on a comment body, in characters.
const MaxCommentLength = 65536

// PullRequest is a pull request as the server holds it.
type PullRequest struct {
	Number  int
	HeadSHA string
	BaseSHA string
	// State is open (the default) or closed.
	State  string
	Draft  bool
	Author string
	// Files, when set, is the list of changed files; otherwise it is
	// computed from the trees at BaseSHA and HeadSHA.
	Files []File
}

// File is a changed file of a pull request.
type File struct {
	Filename         string `json:"filename"`
	Status           string `json:"status"`
	PreviousFilename string `json:"previous_filename,omitempty"`
}

// Comment is an issue comment.
type Comment struct {
	ID       int64
	Number   int
	Body     string
	User     string
	UserType string
	// CreatedAt is when the server stored the comment, served as
	// created_at (RFC 3339, UTC, to the second, as GitHub writes it).
	CreatedAt time.Time
}

// Status is a commit status.
type Status struct {
	State       string `json:"state"`
	Context     string `json:"context"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url"`
}

// Request is a request the server answered.
type Request struct {
	Method string
	Path   string // without /api/v3
	Query  string
	Status int
}

type reaction struct {
	user, content string
}

type repoState struct {
	trees       map[string]map[string]string // sha → path → content
	prs         map[int]*PullRequest
	comments    []*Comment
	reactions   map[int64][]reaction
	statuses    map[string][]Status
	permissions map[string]string // lowercase login → permission
	reviews     map[int][][2]string
}

type fault struct {
	status int
	header http.Header
	body   string
}

// Server is a running fake of GitHub's REST API. Its methods are safe for
// concurrent use.
type Server struct {
	// URL is the server's base URL, such as http://127.0.0.1:41234/: the
	// GitHub URL setting (ESM_GITHUB_URL).
	URL string

	srv *httptest.Server

	mu       sync.Mutex
	repos    map[string]*repoState // lowercase owner/name
	nextID   int64
	requests []Request
	faults   []fault
	latency  time.Duration
}

// Option configures a Server.
type Option func(*Server)

// WithLatency delays every answer by d.
func WithLatency(d time.Duration) Option { return func(s *Server) { s.latency = d } }

// NewServer starts a server on 127.0.0.1, closed when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	s := &Server{repos: map[string]*repoState{}, nextID: 1000}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	s.routes(mux)
	s.srv = httptest.NewServer(s.middleware(mux))
	s.URL = s.srv.URL + "/"
	t.Cleanup(s.srv.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) repo(name string) *repoState {
	key := strings.ToLower(name)
	r, ok := s.repos[key]
	if !ok {
		r = &repoState{
			trees: map[string]map[string]string{}, prs: map[int]*PullRequest{},
			reactions: map[int64][]reaction{}, statuses: map[string][]Status{},
			permissions: map[string]string{}, reviews: map[int][][2]string{},
		}
		s.repos[key] = r
	}
	return r
}

// SetFiles sets the tree of repo (owner/name) at sha: file path → content.
func (s *Server) SetFiles(repo, sha string, files map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tree := make(map[string]string, len(files))
	for p, c := range files {
		tree[p] = c
	}
	s.repo(repo).trees[sha] = tree
}

// SetPullRequest adds or replaces a pull request of repo.
func (s *Server) SetPullRequest(repo string, pr PullRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pr.State == "" {
		pr.State = "open"
	}
	if pr.Author == "" {
		pr.Author = "octocat"
	}
	s.repo(repo).prs[pr.Number] = &pr
}

// SetHead moves the head of a pull request to sha, as a push does.
func (s *Server) SetHead(repo string, number int, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pr, ok := s.repo(repo).prs[number]; ok {
		pr.HeadSHA = sha
	}
}

// SetPermission sets a user's permission on repo: admin, write, read or
// none.
func (s *Server) SetPermission(repo, user, permission string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(repo).permissions[strings.ToLower(user)] = permission
}

// AddReview adds a review (APPROVED, CHANGES_REQUESTED, COMMENTED ...).
func (s *Server) AddReview(repo string, number int, user, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo)
	r.reviews[number] = append(r.reviews[number], [2]string{user, state})
}

// AddComment adds a comment by user (a person) and returns its id.
func (s *Server) AddComment(repo string, number int, user, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addComment(s.repo(repo), number, user, "User", body).ID
}

func (s *Server) addComment(r *repoState, number int, user, userType, body string) *Comment {
	s.nextID++
	c := &Comment{ID: s.nextID, Number: number, Body: body, User: user, UserType: userType, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	r.comments = append(r.comments, c)
	return c
}

// AddReaction puts a reaction by user (a person) on a comment, as a
// reviewer's 👀 would be.
func (s *Server) AddReaction(repo string, commentID int64, user, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo)
	r.reactions[commentID] = append(r.reactions[commentID], reaction{user: user, content: content})
}

// FailNext makes the server answer the next n requests with status,
// header and body (GitHub's error JSON; a default one when empty).
func (s *Server) FailNext(n, status int, header http.Header, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if body == "" {
		body = fmt.Sprintf(`{"message":%q}`, http.StatusText(status))
	}
	for range n {
		s.faults = append(s.faults, fault{status: status, header: header, body: body})
	}
}

// SecondaryRateLimitBody is GitHub's body of a 403 for its secondary rate
// limit.
const SecondaryRateLimitBody = `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`

// Comments returns the comments of a pull request, oldest first.
func (s *Server) Comments(repo string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.repo(repo).comments {
		if c.Number == number {
			out = append(out, *c)
		}
	}
	return out
}

// BotComments returns the comments the bot wrote on a pull request.
func (s *Server) BotComments(repo string, number int) []Comment {
	var out []Comment
	for _, c := range s.Comments(repo, number) {
		if c.User == BotLogin {
			out = append(out, c)
		}
	}
	return out
}

// Statuses returns the statuses set on sha, oldest first.
func (s *Server) Statuses(repo, sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.repo(repo).statuses[sha]...)
}

// Reactions returns the reactions on a comment, in order, such as
// ["eyes", "rocket"].
func (s *Server) Reactions(repo string, commentID int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.repo(repo).reactions[commentID] {
		out = append(out, r.content)
	}
	return out
}

// Requests returns every request answered, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// statusRecorder keeps the status of an answer for Requests.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// middleware strips /api/v3, checks authentication, applies the faults
// and records the request.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := strings.CutPrefix(r.URL.Path, "/api/v3"); ok {
			r.URL.Path = p
			r.URL.RawPath = ""
		}
		if s.latency > 0 {
			time.Sleep(s.latency)
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			s.mu.Lock()
			s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: rec.status})
			s.mu.Unlock()
		}()
		s.mu.Lock()
		var f *fault
		if len(s.faults) > 0 {
			f = &s.faults[0]
			s.faults = s.faults[1:]
		}
		s.mu.Unlock()
		if f != nil {
			for k, v := range f.header {
				rec.Header()[k] = v
			}
			rec.Header().Set("Content-Type", "application/json; charset=utf-8")
			rec.WriteHeader(f.status)
			fmt.Fprint(rec, f.body)
			return
		}
		if r.Header.Get("Authorization") == "" {
			writeJSON(rec, http.StatusUnauthorized, map[string]string{"message": "Requires authentication", "documentation_url": "https://docs.github.com/rest"})
			return
		}
		next.ServeHTTP(rec, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
}

func validationFailed(w http.ResponseWriter, resource, field, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed",
		"errors":  []map[string]string{{"resource": resource, "code": "custom", "field": field, "message": msg}},
	})
}

// paginate writes the page of items that per_page and page ask for, with
// GitHub's Link header.
func paginate[T any](w http.ResponseWriter, r *http.Request, items []T) {
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page <= 0 {
		page = 1
	}
	last := max(1, (len(items)+perPage-1)/perPage)
	start := min((page-1)*perPage, len(items))
	end := min(start+perPage, len(items))
	link := func(p int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		return fmt.Sprintf(`<http://%s/api/v3%s?%s>; rel="%s"`, r.Host, r.URL.Path, q.Encode(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	writeJSON(w, http.StatusOK, append([]T{}, items[start:end]...))
}

func user(login, typ string) map[string]any {
	return map[string]any{"login": login, "type": typ, "id": len(login)}
}

// changedFiles computes the files of a pull request from its trees.
func changedFiles(r *repoState, pr *PullRequest) []File {
	if pr.Files != nil {
		return pr.Files
	}
	base, head := r.trees[pr.BaseSHA], r.trees[pr.HeadSHA]
	var out []File
	for p, c := range head {
		old, ok := base[p]
		switch {
		case !ok:
			out = append(out, File{Filename: p, Status: "added"})
		case old != c:
			out = append(out, File{Filename: p, Status: "modified"})
		}
	}
	for p := range base {
		if _, ok := head[p]; !ok {
			out = append(out, File{Filename: p, Status: "removed"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Filename < out[j].Filename })
	return out
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
		return false
	}
	return true
}

func tooLong(body string) bool { return utf8.RuneCountInString(body) > MaxCommentLength }

func commentJSON(r *http.Request, repo string, c *Comment) map[string]any {
	return map[string]any{
		"id": c.ID, "body": c.Body, "user": user(c.User, c.UserType),
		"created_at": c.CreatedAt.Format(time.RFC3339), "updated_at": c.CreatedAt.Format(time.RFC3339),
		"html_url": fmt.Sprintf("http://%s/%s/pull/%d#issuecomment-%d", r.Host, repo, c.Number, c.ID),
	}
}

func base64Of(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
