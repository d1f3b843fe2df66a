package idl

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/esm-dev/esm/internal/diag"
)

// Tree is a set of schema files loaded together: every .avdl file with its
// imports, then every .avsc and .avpr file that no .avdl file imported.
type Tree struct {
	// Results holds one result per file loaded on its own, in order.
	Results []*Result
	// Types holds every named type once (by full name and declaring
	// file), in load order.
	Types []*Schema
	// Diags holds the problems of every file, each once, sorted.
	Diags diag.List
}

// IsSchemaFile reports whether path names a file LoadFile reads.
func IsSchemaFile(path string) bool {
	switch filepath.Ext(path) {
	case ".avdl", ".avsc", ".avpr":
		return true
	}
	return false
}

// FindSchemaFiles returns the schema files under each path (a file, or a
// directory searched recursively, skipping directories whose name starts
// with a dot), sorted within each directory.
func FindSchemaFiles(paths []string) ([]string, error) {
	var files []string
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("schema path %s: %w", root, unwrapPathError(err))
		}
		if !st.IsDir() {
			files = append(files, root)
			continue
		}
		var found []string
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != root && len(d.Name()) > 1 && d.Name()[0] == '.' {
				return filepath.SkipDir
			}
			if !d.IsDir() && IsSchemaFile(p) {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", root, err)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

// LoadTree finds the schema files under paths and loads them with
// LoadFiles. The error is for paths that cannot be read; problems in the
// schemas are in Tree.Diags.
func LoadTree(paths []string, opts Options) (*Tree, error) {
	files, err := FindSchemaFiles(paths)
	if err != nil {
		return nil, err
	}
	return LoadFiles(files, opts), nil
}

// LoadFiles loads every .avdl file of files with its imports, then every
// .avsc and .avpr file that none of them imported, so that a schema that
// is only meaningful as an import is not checked out of context. A record
// declared in more than one file is an error (MergeTypes).
func LoadFiles(files []string, opts Options) *Tree {
	t := &Tree{}
	seenDiag := map[string]bool{}
	Visit(files, opts, LoadFile, func(path string, res *Result, err error) {
		if res != nil {
			t.Results = append(t.Results, res)
			t.addDiags(res.Warnings, seenDiag)
		}
		if list, ok := err.(diag.List); ok {
			t.addDiags(list, seenDiag)
		} else if err != nil {
			pos := diag.Position{Filename: path}
			t.Diags = append(t.Diags, &diag.Diagnostic{Severity: diag.Error, Pos: pos, End: pos, Message: err.Error()})
		}
	})
	types, dups := MergeTypes(t.Results)
	t.Types = types
	t.addDiags(dups, seenDiag)
	t.Diags.Sort()
	return t
}

// MergeTypes returns the named types of results, each once by full name
// and declaring file, in order. Files loaded on their own do not share a
// namespace, so one record may be declared in two of them; each record
// makes monitors and an event type, so that is an error, reported at
// every later declaration and naming the first: "record R is declared in
// more than one file: also at a.avdl:3:10". The later declarations are
// left out of the types. validate, plan, the bot and the collector all
// merge the types of their files with it, so they give that one verdict.
func MergeTypes(results []*Result) ([]*Schema, diag.List) {
	var types []*Schema
	var diags diag.List
	seen := map[string]bool{}
	records := map[string]*Schema{} // the first declaration of each record, by full name
	for _, res := range results {
		if res == nil {
			continue
		}
		for _, s := range res.Types {
			key := s.FullName() + "\x00" + absPath(s.Filename())
			if seen[key] {
				continue
			}
			seen[key] = true
			if s.Kind == Record {
				if first, dup := records[s.FullName()]; dup {
					r := s.NameRange
					if r.File == nil {
						r = s.Range
					}
					at := first.NameRange
					if at.File == nil {
						at = first.Range
					}
					diags.Add(diag.Error, r.Pos(), r.EndPos(), "record %s is declared in more than one file: also at %s", s.FullName(), at.Pos())
					continue
				}
				records[s.FullName()] = s
			}
			types = append(types, s)
		}
	}
	return types, diags
}

// Visit loads, with load (LoadFile, or a stand-in in tests), every .avdl
// file of files, then every .avsc and .avpr file that no load has read,
// and calls each with every outcome, in that order.
func Visit(files []string, opts Options, load func(string, Options) (*Result, error), each func(path string, res *Result, err error)) {
	imported := map[string]bool{}
	one := func(path string) {
		res, err := load(path, opts)
		if res != nil {
			for _, f := range res.Files {
				imported[absPath(f)] = true
			}
		}
		each(path, res, err)
	}
	for _, f := range files {
		if filepath.Ext(f) == ".avdl" {
			one(f)
		}
	}
	for _, f := range files {
		if filepath.Ext(f) != ".avdl" && !imported[absPath(f)] {
			one(f)
		}
	}
}

func (t *Tree) addDiags(list diag.List, seen map[string]bool) {
	for _, d := range list {
		if k := d.Error(); !seen[k] {
			seen[k] = true
			t.Diags = append(t.Diags, d)
		}
	}
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}
