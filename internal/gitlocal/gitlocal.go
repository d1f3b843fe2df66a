// Package gitlocal reads a local Git work tree the way esm's bot reads a
// pull request: the files changed between a ref and the work tree, their
// contents at both sides, the head commit and the repository's web
// address. It runs the git command.
package gitlocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/esm-dev/esm/internal/forge"
)

// Repo is a Git work tree.
type Repo struct {
	// Root is the top of the work tree.
	Root string
}

// Open returns the work tree holding dir.
func Open(ctx context.Context, dir string) (*Repo, error) {
	out, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, err
	}
	return &Repo{Root: strings.TrimSpace(out)}, nil
}

// git runs git in dir and returns its standard output; a failure says
// what git said.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", args[0], firstLine(msg))
	}
	return stdout.String(), nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Changes returns the files changed between ref and the work tree, as a
// pull request lists them: modified, added (untracked files included,
// unless ignored), removed and renamed, with paths relative to the root.
func (r *Repo) Changes(ctx context.Context, ref string) ([]forge.ChangedFile, error) {
	if _, err := git(ctx, r.Root, "rev-parse", "--verify", "--quiet", ref+"^{commit}"); err != nil {
		return nil, fmt.Errorf("%s is not a commit of this repository", ref)
	}
	out, err := git(ctx, r.Root, "diff", "--name-status", "-z", "-M", ref, "--")
	if err != nil {
		return nil, err
	}
	var files []forge.ChangedFile
	fields := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
	for i := 0; i+1 < len(fields); {
		status := fields[i]
		switch {
		case strings.HasPrefix(status, "R") && i+2 < len(fields):
			files = append(files, forge.ChangedFile{Path: fields[i+2], PreviousPath: fields[i+1], Status: forge.FileRenamed})
			i += 3
			continue
		case strings.HasPrefix(status, "C") && i+2 < len(fields):
			files = append(files, forge.ChangedFile{Path: fields[i+2], Status: forge.FileAdded})
			i += 3
			continue
		case status == "A":
			files = append(files, forge.ChangedFile{Path: fields[i+1], Status: forge.FileAdded})
		case status == "D":
			files = append(files, forge.ChangedFile{Path: fields[i+1], Status: forge.FileRemoved})
		default: // M, T
			files = append(files, forge.ChangedFile{Path: fields[i+1], Status: forge.FileModified})
		}
		i += 2
	}
	untracked, err := git(ctx, r.Root, "ls-files", "-z", "--others", "--exclude-standard")
	if err != nil {
		return nil, err
	}
	for _, p := range strings.Split(untracked, "\x00") {
		if p != "" {
			files = append(files, forge.ChangedFile{Path: p, Status: forge.FileAdded})
		}
	}
	return files, nil
}

// inside cleans name, a path in the repository, and refuses one that
// leaves it.
func inside(name string) (string, error) {
	p := path.Clean(strings.ReplaceAll(name, "\\", "/"))
	if p == ".." || strings.HasPrefix(p, "../") || path.IsAbs(p) {
		return "", fmt.Errorf("%s: outside the repository: %w", name, fs.ErrNotExist)
	}
	return p, nil
}

// ReadWorkTree reads a file of the work tree by its path in the
// repository.
func (r *Repo) ReadWorkTree(name string) ([]byte, error) {
	p, err := inside(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(r.Root, filepath.FromSlash(p)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	return b, err
}

// ReaderAt returns a function that reads files as they are at ref; a file
// ref does not have is fs.ErrNotExist.
func (r *Repo) ReaderAt(ctx context.Context, ref string) func(name string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		p, err := inside(name)
		if err != nil {
			return nil, err
		}
		if _, err := git(ctx, r.Root, "cat-file", "-e", ref+":"+p); err != nil {
			return nil, fmt.Errorf("%s at %s: %w", p, ref, fs.ErrNotExist)
		}
		out, err := git(ctx, r.Root, "show", ref+":"+p)
		if err != nil {
			return nil, err
		}
		return []byte(out), nil
	}
}

// Head returns the commit the work tree is at.
func (r *Repo) Head(ctx context.Context) (string, error) {
	out, err := git(ctx, r.Root, "rev-parse", "HEAD")
	return strings.TrimSpace(out), err
}

// WebURL returns the repository's web address, for links to schema
// lines: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY in GitHub Actions, else
// the origin remote's, as https (git@github.com:o/r.git is
// https://github.com/o/r); "" when there is none.
func (r *Repo) WebURL(ctx context.Context, getenv func(string) string) string {
	if server, repo := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"); server != "" && repo != "" {
		return strings.TrimSuffix(server, "/") + "/" + repo
	}
	out, err := git(ctx, r.Root, "remote", "get-url", "origin")
	if err != nil {
		return ""
	}
	return webURL(strings.TrimSpace(out))
}

// webURL turns a remote URL into the repository's https address.
func webURL(remote string) string {
	u := strings.TrimSuffix(remote, ".git")
	if host, p, ok := strings.Cut(strings.TrimPrefix(u, "git@"), ":"); ok && strings.HasPrefix(u, "git@") {
		return "https://" + host + "/" + p
	}
	if rest, ok := strings.CutPrefix(u, "ssh://git@"); ok {
		return "https://" + rest
	}
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		if at := strings.Index(u, "@"); at >= 0 && at < strings.Index(u[8:], "/")+8 {
			// Credentials in the URL never reach a comment.
			scheme, _, _ := strings.Cut(u, "://")
			return scheme + "://" + u[at+1:]
		}
		return u
	}
	return ""
}
