// Package forge holds the value types and the small interfaces esm's bot
// exchanges with a code forge (GitHub): repositories, pull requests, files,
// comments, reviews, reactions and commit statuses. internal/reconcile
// consumes them; internal/github implements them.
package forge

import "context"

// Repo names a GitHub repository and, for a GitHub App, the installation
// that received the event (0 with a token).
type Repo struct {
	Owner, Name  string
	Installation int64
}

// String returns owner/name.
func (r Repo) String() string { return r.Owner + "/" + r.Name }

// PullRequest is what a run needs of a pull request.
type PullRequest struct {
	Number  int
	HeadSHA string
	BaseSHA string
	State   string // open or closed
	Draft   bool
	Author  string
}

// File statuses of a pull request's changed files, as GitHub names them.
const (
	FileAdded    = "added"
	FileModified = "modified"
	FileRemoved  = "removed"
	FileRenamed  = "renamed"
	FileCopied   = "copied"
	FileChanged  = "changed"
)

// ChangedFile is a file a pull request changes.
type ChangedFile struct {
	Path string
	// PreviousPath is the path at the base of a renamed file.
	PreviousPath string
	// Status is one of the File* constants.
	Status string
}

// Comment is an issue comment of a pull request.
type Comment struct {
	ID     int64
	Body   string
	Author string
	// AuthorType is "User", "Bot" or "Organization".
	AuthorType string
}

// Review is a pull request review.
type Review struct {
	Author string
	// State is APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED or PENDING.
	State string
}

// Reactions the bot puts on a command.
const (
	ReactionEyes     = "eyes"     // 👀 the command is being run
	ReactionRocket   = "rocket"   // 🚀 it succeeded
	ReactionConfused = "confused" // 😕 it failed
)

// Commit status states.
const (
	StatusPending = "pending"
	StatusSuccess = "success"
	StatusFailure = "failure"
	StatusError   = "error"
)

// CommitStatus is a commit status on a SHA.
type CommitStatus struct {
	Context     string // esm/<env>
	State       string // one of the Status* constants
	Description string
}

// PullRequests reads pull requests.
type PullRequests interface {
	PullRequest(ctx context.Context, repo Repo, number int) (*PullRequest, error)
	// ListPullRequestFiles returns every changed file (all pages).
	ListPullRequestFiles(ctx context.Context, repo Repo, number int) ([]ChangedFile, error)
	// ListReviews returns every review (all pages), oldest first.
	ListReviews(ctx context.Context, repo Repo, number int) ([]Review, error)
}

// Contents reads files of a repository.
type Contents interface {
	// FileContents returns a file at ref; an error wrapping fs.ErrNotExist
	// when there is no such file.
	FileContents(ctx context.Context, repo Repo, path, ref string) ([]byte, error)
}

// Comments reads and writes the comments of a pull request.
type Comments interface {
	// ListIssueComments returns every comment (all pages), oldest first.
	ListIssueComments(ctx context.Context, repo Repo, number int) ([]Comment, error)
	CreateIssueComment(ctx context.Context, repo Repo, number int, body string) (int64, error)
	EditIssueComment(ctx context.Context, repo Repo, id int64, body string) error
	CreateCommentReaction(ctx context.Context, repo Repo, commentID int64, reaction string) error
	// ListCommentReactions returns every reaction on a comment (all pages).
	ListCommentReactions(ctx context.Context, repo Repo, commentID int64) ([]Reaction, error)
}

// Reaction is a reaction on a comment.
type Reaction struct {
	Content string // such as "eyes"
	User    string // the login of who reacted
}

// Statuses sets commit statuses.
type Statuses interface {
	CreateStatus(ctx context.Context, repo Repo, sha string, s CommitStatus) error
}

// Permissions reads who may do what.
type Permissions interface {
	// PermissionLevel returns a user's permission on a repository: admin,
	// write, read or none.
	PermissionLevel(ctx context.Context, repo Repo, user string) (string, error)
	// Login returns the login the bot comments as, such as "esm[bot]".
	Login(ctx context.Context) (string, error)
}

// GitHub is everything a run does on GitHub; internal/github implements it.
type GitHub interface {
	PullRequests
	Contents
	Comments
	Statuses
	Permissions
}
