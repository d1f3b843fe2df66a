package reconcile

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"sync"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/forge"
	"github.com/esm-dev/esm/internal/idl"
	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/queryfile"
)

// ChangeSet is what the changed schema and query files of a change (a pull
// request, or the work tree since a Git ref) ask for, and the scope of
// its plan.
type ChangeSet struct {
	// Files are the changed schema and query files at the head, sorted.
	Files []string
	// Specs are what the changed files ask for at the head.
	Specs []annotations.Spec
	// Diags are the problems of the head's files and their annotations.
	Diags diag.List
	// Scope holds the records declared in the changed files at either
	// side, and the names of the monitors they ask for at either side:
	// identity is name plus environment tag, so a monitor of such a name
	// is in scope even without esm's record tag.
	Scope monitor.Scope
	// BaseErrors counts the errors of the base's files: they are not the
	// change's, but they may hide records from the scope.
	BaseErrors int
}

// ReadFunc reads a file of a repository at one side of a change, by its
// path in the repository; a missing file is fs.ErrNotExist.
type ReadFunc func(name string) ([]byte, error)

// ChangedSchemaFiles returns the changed .avdl, .avsc and .avpr files at
// the head (added, modified, renamed to) and at the base (removed,
// modified, renamed from), sorted.
func ChangedSchemaFiles(files []forge.ChangedFile) (head, base []string) {
	return changedFiles(files, idl.IsSchemaFile)
}

// changedFiles returns the changed files that keep selects, at the head
// (added, modified, renamed to) and at the base (removed, modified,
// renamed from), sorted.
func changedFiles(files []forge.ChangedFile, keep func(string) bool) (head, base []string) {
	for _, f := range files {
		var h, b string
		switch f.Status {
		case forge.FileRemoved:
			b = f.Path
		case forge.FileAdded, forge.FileCopied:
			h = f.Path
		case forge.FileRenamed:
			h, b = f.Path, f.PreviousPath
		default: // modified, changed
			h, b = f.Path, f.Path
		}
		if h != "" && keep(h) {
			head = append(head, h)
		}
		if b != "" && keep(b) {
			base = append(base, b)
		}
	}
	sort.Strings(head)
	sort.Strings(base)
	return head, base
}

// ChangesMonitors reports whether a change touches a file that asks for
// monitors: a schema file, or a query file under queriesDir.
func ChangesMonitors(files []forge.ChangedFile, queriesDir string) bool {
	head, base := ChangedSchemaFiles(files)
	qhead, qbase := ChangedQueryFiles(files, queriesDir)
	return len(head)+len(base)+len(qhead)+len(qbase) > 0
}

// LoadChangeSet parses the changed schema files, and the changed query
// files under queriesDir (relative to the repository root), at the head
// (readHead) and at the base (readBase), with their imports, and computes
// what they ask for in env and the scope of the plan. The error is for
// files that cannot be read other than missing ones (the first such
// failure); problems in the files are in Diags.
func LoadChangeSet(cfg *config.Config, env string, files []forge.ChangedFile, readHead, readBase ReadFunc, queriesDir string) (*ChangeSet, error) {
	head, base := ChangedSchemaFiles(files)
	qhead, qbase := ChangedQueryFiles(files, queriesDir)
	cs := &ChangeSet{Files: append(append([]string{}, head...), qhead...), Scope: monitor.Scope{Records: map[string]bool{}, Names: map[string]bool{}}}
	sort.Strings(cs.Files)
	headTypes, headDiags, err := parseSide(head, readHead)
	if err != nil {
		return nil, err
	}
	baseTypes, baseDiags, err := parseSide(base, readBase)
	if err != nil {
		return nil, err
	}
	headQueries, headQueryDiags, err := parseQuerySide(cfg, qhead, readHead)
	if err != nil {
		return nil, err
	}
	baseQueries, baseQueryDiags, err := parseQuerySide(cfg, qbase, readBase)
	if err != nil {
		return nil, err
	}
	cs.BaseErrors = len(baseDiags.Errors()) + len(baseQueryDiags.Errors())
	for _, s := range append(headTypes, baseTypes...) {
		cs.Scope.Records[monitor.RecordTagValue(s.FullName())] = true
	}
	for _, q := range append(headQueries, baseQueries...) {
		cs.Scope.Records[monitor.RecordTagValue(annotations.QueryFullName(q.Name))] = true
	}
	recordSpecs, diags := SpecsFromTypes(cfg, env, headTypes)
	querySpecs, queryDiags := QuerySpecs(cfg, env, headQueries)
	specs, clashes := MergeSpecs(recordSpecs, querySpecs)
	cs.Specs = specs
	// The base's problems are not this change's: its monitors only name
	// what the scope holds.
	before, _ := SpecsFromTypes(cfg, env, baseTypes)
	beforeQueries, _ := QuerySpecs(cfg, env, baseQueries)
	for _, d := range append(append(before, beforeQueries...), specs...) {
		cs.Scope.Names[d.Name] = true
	}
	cs.Diags = append(append(append(append(append(diag.List{}, headDiags...), diags...), headQueryDiags...), queryDiags...), clashes...)
	cs.Diags.Sort()
	return cs, nil
}

// parseQuerySide reads and parses the query files with read and returns
// their queries, each name once, and the problems. A missing file is
// skipped.
func parseQuerySide(cfg *config.Config, files []string, read ReadFunc) ([]*queryfile.Query, diag.List, error) {
	var all []*queryfile.Query
	var diags diag.List
	for _, f := range files {
		src, err := read(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		qs, list := queryfile.ParseFile(f, src, QueryOptions(cfg))
		all, diags = append(all, qs...), append(diags, list...)
	}
	all, dups := queryfile.Unique(all)
	return all, append(diags, dups...), nil
}

// parseSide loads files with read and returns the named types declared
// in them (not in their imports) and the problems.
func parseSide(files []string, read ReadFunc) ([]*idl.Schema, diag.List, error) {
	if len(files) == 0 {
		return nil, nil, nil
	}
	var (
		mu      sync.Mutex
		failure error
	)
	tree := idl.LoadFiles(files, idl.Options{ReadFile: func(name string) ([]byte, error) {
		b, err := read(name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			mu.Lock()
			if failure == nil {
				failure = err
			}
			mu.Unlock()
		}
		return b, err
	}})
	if failure != nil {
		return nil, nil, failure
	}
	declared := map[string]bool{}
	for _, p := range files {
		declared[path.Clean(p)] = true
	}
	var types []*idl.Schema
	for _, s := range tree.Types {
		if declared[path.Clean(s.Filename())] {
			types = append(types, s)
		}
	}
	return types, tree.Diags, nil
}
