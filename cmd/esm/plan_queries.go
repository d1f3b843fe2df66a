package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/queryfile"
	"github.com/esm-dev/esm/internal/reconcile"
)

// envQueries names the directory of the query files, as --queries does.
const envQueries = "ESM_QUERIES"

// addQueriesFlag adds --queries to a command that plans or checks
// monitors.
func addQueriesFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "queries", "", "read the query files (their monitors:) under `DIR` ("+envQueries+"; default: "+defaultQueriesDir+" at the repository root, when it exists)")
}

// queriesDir returns the directory of the query files: flag when set,
// else $ESM_QUERIES, else queries at the root; explicit says whether the
// user named it (it must then exist).
func (w repoRoot) queriesDir(flag string) (dir string, explicit bool) {
	if flag != "" {
		return flag, true
	}
	if v := os.Getenv(envQueries); v != "" {
		return v, true
	}
	return w.path(defaultQueriesDir), false
}

// repoPath returns p, a path relative to the working directory, relative
// to the root in slash form ("queries"), as the bot and Git name files.
func (w repoRoot) repoPath(p string) string {
	root, err1 := filepath.Abs(w.dir)
	abs, err2 := filepath.Abs(p)
	if err1 != nil || err2 != nil {
		return filepath.ToSlash(p)
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(rel)
}

// querySources says which query files a plan or a check reads.
type querySources struct {
	// paths are the query files and directories to read; none when the
	// directory does not exist and no one named it.
	paths []string
}

// splitQueryPaths separates the PATHs under the query directory dir (or
// naming a query file) from the schema PATHs. whole says the PATHs cover
// the whole tree, so that every query file is read; the query directory
// is then read when it exists or explicit says the user named it (a
// named directory that does not exist or holds no query file is an
// error; the default one may be empty).
func splitQueryPaths(paths []string, dir string, explicit, whole bool) (schemaPaths []string, src querySources, problems []error) {
	dirAbs := absPath(dir)
	for _, p := range paths {
		abs := absPath(p)
		if abs == dirAbs || strings.HasPrefix(abs, dirAbs+string(filepath.Separator)) || queryfile.IsQueryFile(p) {
			src.paths = append(src.paths, p)
			continue
		}
		schemaPaths = append(schemaPaths, p)
	}
	if whole {
		src.paths = nil
		if _, statErr := os.Stat(dir); statErr == nil && !explicit {
			// The default directory, found: it may hold no query file.
			src.paths = []string{dir}
			return schemaPaths, src, nil
		}
		if explicit {
			src.paths = []string{dir}
		}
	}
	for _, p := range src.paths {
		if msg := queryPathProblem(p); msg != "" {
			problems = append(problems, &schemaPathError{path: p, msg: msg})
		}
	}
	return schemaPaths, src, problems
}

// files returns the query files of src, each once, in lexical order
// within each path: a directory is searched recursively, skipping
// directories whose name starts with ".", as queryfile.LoadDir does.
func (src querySources) files() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range src.paths {
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return nil // queryPathProblem reported the path
			case d.IsDir() && path != p && strings.HasPrefix(d.Name(), "."):
				return filepath.SkipDir
			case !d.IsDir() && (path == p || queryfile.IsQueryFile(path)) && !seen[absPath(path)]:
				seen[absPath(path)] = true
				out = append(out, path)
			}
			return nil
		})
	}
	return out
}

// queryPathProblem says what keeps p from holding query files, or "": it
// does not exist, or is a directory without .yaml or .yml files. As for
// schemas, a PATH without query files is never read as "no monitors".
func queryPathProblem(p string) string {
	info, err := os.Stat(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return err.Error()
	}
	if !info.IsDir() {
		return ""
	}
	found := false
	_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && queryfile.IsQueryFile(path) {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	if !found {
		return "no .yaml or .yml query file in this directory"
	}
	return ""
}

// specs reads the query files of src and returns what their
// monitors ask for in env.
func (src querySources) specs(cfg *config.Config, env string) ([]annotations.Spec, diag.List) {
	if len(src.paths) == 0 {
		return nil, nil
	}
	return reconcile.LoadQuerySpecs(cfg, env, src.files())
}

// withQuerySpecs adds the monitors of the query files of src to the
// schemas' specs, and their problems to diags: a query monitor with the
// name of a record's is an error at both.
func withQuerySpecs(cfg *config.Config, env string, src querySources, specs []annotations.Spec, diags diag.List) ([]annotations.Spec, diag.List) {
	qspecs, qdiags := src.specs(cfg, env)
	if len(qspecs)+len(qdiags) == 0 {
		return specs, diags
	}
	all, clashes := reconcile.MergeSpecs(specs, qspecs)
	out := append(append(append(diag.List{}, diags...), qdiags...), clashes...)
	out.Sort()
	return all, out
}
