package ghtest

import (
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// routes registers the endpoints, as go-github calls them.
func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, user(BotLogin, "Bot"))
	})
	mux.HandleFunc("GET /app", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"id": 1, "slug": AppSlug, "name": "esm"})
	})
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, map[string]any{
			"token":      "ghs_installation_" + r.PathValue("id"),
			"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		})
	})
	mux.HandleFunc("GET /repos/{owner}/{repo}/installation", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"id": 1, "app_id": 1})
	})
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}", s.withPR(func(w http.ResponseWriter, r *http.Request, rs *repoState, pr *PullRequest) {
		writeJSON(w, http.StatusOK, map[string]any{
			"number": pr.Number, "state": pr.State, "draft": pr.Draft, "user": user(pr.Author, "User"),
			"head": map[string]any{"sha": pr.HeadSHA}, "base": map[string]any{"sha": pr.BaseSHA},
		})
	}))
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}/files", s.withPR(func(w http.ResponseWriter, r *http.Request, rs *repoState, pr *PullRequest) {
		paginate(w, r, changedFiles(rs, pr))
	}))
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}/reviews", s.withPR(func(w http.ResponseWriter, r *http.Request, rs *repoState, pr *PullRequest) {
		var out []map[string]any
		for i, rv := range rs.reviews[pr.Number] {
			out = append(out, map[string]any{"id": i + 1, "user": user(rv[0], "User"), "state": rv[1]})
		}
		paginate(w, r, out)
	}))
	mux.HandleFunc("GET /repos/{owner}/{repo}/contents/{path...}", s.contents)
	// GitHub's paths issues/{number}/comments and issues/comments/{id}
	// overlap as ServeMux patterns: one handler tells them apart.
	mux.HandleFunc("/repos/{owner}/{repo}/issues/{a}/{b}", s.issueComments)
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues/comments/{id}/reactions", s.createReaction)
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues/comments/{id}/reactions", s.listReactions)
	mux.HandleFunc("POST /repos/{owner}/{repo}/statuses/{sha}", s.createStatus)
	mux.HandleFunc("GET /repos/{owner}/{repo}/collaborators/{user}/permission", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		p, ok := s.repo(repoName(r)).permissions[strings.ToLower(r.PathValue("user"))]
		s.mu.Unlock()
		if !ok {
			p = "read"
		}
		writeJSON(w, http.StatusOK, map[string]any{"permission": p, "user": user(r.PathValue("user"), "User")})
	})
}

func repoName(r *http.Request) string { return r.PathValue("owner") + "/" + r.PathValue("repo") }

// withPR runs h with the pull request of the path, under the lock, or
// answers 404.
func (s *Server) withPR(h func(http.ResponseWriter, *http.Request, *repoState, *PullRequest)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("number"))
		s.mu.Lock()
		defer s.mu.Unlock()
		rs := s.repo(repoName(r))
		pr, ok := rs.prs[n]
		if err != nil || !ok {
			notFound(w)
			return
		}
		h(w, r, rs, pr)
	}
}

func (s *Server) contents(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("ref")
	p := path.Clean(r.PathValue("path"))
	s.mu.Lock()
	content, ok := s.repo(repoName(r)).trees[ref][p]
	s.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "raw") {
		w.Header().Set("Content-Type", "application/vnd.github.raw; charset=utf-8")
		fmt.Fprint(w, content)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"type": "file", "encoding": "base64", "size": len(content), "name": path.Base(p), "path": p,
		"content": base64Of(content),
	})
}

func (s *Server) issueComments(w http.ResponseWriter, r *http.Request) {
	a, b := r.PathValue("a"), r.PathValue("b")
	repo := repoName(r)
	switch {
	case a == "comments" && r.Method == http.MethodPatch:
		id, _ := strconv.ParseInt(b, 10, 64)
		var in struct {
			Body string `json:"body"`
		}
		if !decode(w, r, &in) {
			return
		}
		if tooLong(in.Body) {
			validationFailed(w, "IssueComment", "body", "body is too long (maximum is 65536 characters)")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.repo(repo).comments {
			if c.ID == id {
				c.Body = in.Body
				writeJSON(w, http.StatusOK, commentJSON(r, repo, c))
				return
			}
		}
		notFound(w)
	case b == "comments" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		n, err := strconv.Atoi(a)
		s.mu.Lock()
		defer s.mu.Unlock()
		rs := s.repo(repo)
		if _, ok := rs.prs[n]; !ok || err != nil {
			notFound(w)
			return
		}
		if r.Method == http.MethodGet {
			var out []map[string]any
			for _, c := range rs.comments {
				if c.Number == n {
					out = append(out, commentJSON(r, repo, c))
				}
			}
			paginate(w, r, out)
			return
		}
		var in struct {
			Body string `json:"body"`
		}
		if !decode(w, r, &in) {
			return
		}
		if in.Body == "" || tooLong(in.Body) {
			validationFailed(w, "IssueComment", "body", "body is too long (maximum is 65536 characters)")
			return
		}
		writeJSON(w, http.StatusCreated, commentJSON(r, repo, s.addComment(rs, n, BotLogin, "Bot", in.Body)))
	default:
		notFound(w)
	}
}

// reactionContents are the reactions GitHub accepts.
var reactionContents = map[string]bool{"+1": true, "-1": true, "laugh": true, "confused": true, "heart": true, "hooray": true, "rocket": true, "eyes": true}

func (s *Server) createReaction(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var in struct {
		Content string `json:"content"`
	}
	if !decode(w, r, &in) {
		return
	}
	if !reactionContents[in.Content] {
		validationFailed(w, "Reaction", "content", "content is not included in the list")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.repo(repoName(r))
	if !rs.hasComment(id) {
		notFound(w)
		return
	}
	out := map[string]any{"content": in.Content, "user": user(BotLogin, "Bot")}
	for _, x := range rs.reactions[id] {
		if x.user == BotLogin && x.content == in.Content {
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	rs.reactions[id] = append(rs.reactions[id], reaction{user: BotLogin, content: in.Content})
	writeJSON(w, http.StatusCreated, out)
}

// hasComment reports whether the repository has the comment id.
func (rs *repoState) hasComment(id int64) bool {
	for _, c := range rs.comments {
		if c.ID == id {
			return true
		}
	}
	return false
}

func (s *Server) listReactions(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.repo(repoName(r))
	if !rs.hasComment(id) {
		notFound(w)
		return
	}
	out := []map[string]any{}
	for i, x := range rs.reactions[id] {
		typ := "User"
		if x.user == BotLogin {
			typ = "Bot"
		}
		out = append(out, map[string]any{"id": i + 1, "content": x.content, "user": user(x.user, typ)})
	}
	paginate(w, r, out)
}

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request) {
	var in Status
	if !decode(w, r, &in) {
		return
	}
	switch in.State {
	case "pending", "success", "failure", "error":
	default:
		validationFailed(w, "Status", "state", "state is not included in the list")
		return
	}
	if len(in.Description) > 140 {
		validationFailed(w, "Status", "description", "description is too long (maximum is 140 characters)")
		return
	}
	if in.Context == "" {
		in.Context = "default"
	}
	s.mu.Lock()
	rs := s.repo(repoName(r))
	rs.statuses[r.PathValue("sha")] = append(rs.statuses[r.PathValue("sha")], in)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, in)
}
