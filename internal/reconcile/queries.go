package reconcile

import (
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/forge"
	"github.com/esm-dev/esm/internal/queryfile"
)

// DefaultQueriesDir is the directory of the query files, at the root of
// the repository.
const DefaultQueriesDir = "queries"

// QueryOptions are the options of query files when their monitors are
// made: the databases esm.yaml declares, which a query's db: must name.
// A configuration that declares no database (one made for the monitors,
// such as the bot's) does not check db:, which only running the query
// needs.
func QueryOptions(cfg *config.Config) queryfile.ParseOptions {
	if len(cfg.Databases.List) == 0 {
		return queryfile.ParseOptions{}
	}
	return queryfile.ParseOptions{Databases: cfg.Databases.Names()}
}

// LoadQuerySpecs reads the query files under paths (each a query file or
// a directory searched as queryfile.LoadDir does) and returns what their
// monitors ask for in env, sorted by monitor name, each naming its file
// relative to the repository root as the bot reads it. diags holds every
// problem of the files and of their monitors.
func LoadQuerySpecs(cfg *config.Config, env string, paths []string) ([]annotations.Spec, diag.List) {
	var all []*queryfile.Query
	var diags diag.List
	for _, p := range paths {
		var qs []*queryfile.Query
		var list diag.List
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			if src, err := os.ReadFile(p); err != nil {
				list.Add(diag.Error, diag.Position{Filename: p}, diag.Position{}, "read query file: %v", err)
			} else {
				qs, list = queryfile.ParseFile(p, src, QueryOptions(cfg))
			}
		} else {
			qs, list = queryfile.LoadDir(p, QueryOptions(cfg))
		}
		all, diags = append(all, qs...), append(diags, list...)
	}
	all, dups := queryfile.Unique(all)
	specs, specDiags := querySpecs(cfg, env, all, repoRelative(paths))
	diags = append(append(diags, dups...), specDiags...)
	diags.Sort()
	return specs, uniqueDiags(diags)
}

// QuerySpecs returns what the monitors of qs ask for in env, sorted by
// monitor name, with every problem; monitors name the query files as qs
// do.
func QuerySpecs(cfg *config.Config, env string, qs []*queryfile.Query) ([]annotations.Spec, diag.List) {
	return querySpecs(cfg, env, qs, func(p string) string { return p })
}

func querySpecs(cfg *config.Config, env string, qs []*queryfile.Query, file func(string) string) ([]annotations.Spec, diag.List) {
	var diags diag.List
	e, err := cfg.Env(env)
	if err != nil {
		diags.Add(diag.Error, diag.Position{}, diag.Position{}, "%v", err)
		return nil, diags
	}
	var out []annotations.Spec
	for _, q := range qs {
		rel := file(q.Pos.Filename)
		for _, m := range q.Monitors {
			kind := m.Kind.Annotation()
			channels := q.Channels
			if m.Channels != nil {
				channels = m.Channels
			}
			t := annotations.Target{
				Record: q.Name, FullName: annotations.QueryFullName(q.Name), Doc: q.Description, File: rel, Line: m.Pos.Line,
				Env: e.Annotations(), Query: &annotations.QueryTarget{Name: q.Name, Labels: q.Labels},
			}
			if channels != nil {
				t.Channels = *channels
			}
			pos := annotations.Position{File: m.Pos.Filename, Line: m.Pos.Line, Column: m.Pos.Column}
			spec, err := m.Kind.Spec(t, append(cfg.Layers(kind, env), m.Params))
			if err != nil {
				addErr(&diags, err, pos)
				continue
			}
			spec.Pos = annotations.Position{File: rel, Line: m.Pos.Line, Column: m.Pos.Column}
			if t.Channels.IsZero() {
				msg := "the %s monitor of query %s notifies no one: add alert_channel to the query or to the monitor"
				if cfg.RequireAlertChannel {
					diags.Add(diag.Error, m.Pos, m.Pos, msg+" (esm.yaml sets require_alert_channel)", m.Key, q.Name)
				} else {
					diags.Add(diag.Warning, m.Pos, m.Pos, msg, m.Key, q.Name)
				}
			}
			out = append(out, spec)
		}
	}
	out, clashes := MergeSpecs(out)
	diags = append(diags, clashes...)
	diags.Sort()
	return out, uniqueDiags(diags)
}

// MergeSpecs returns the specs of several sources (the schemas' and the
// query files') as one list sorted by monitor name, and an error at each
// spec whose name an earlier one already has, naming both positions: a
// monitor's name is its identity.
func MergeSpecs(lists ...[]annotations.Spec) ([]annotations.Spec, diag.List) {
	var out []annotations.Spec
	var diags diag.List
	byName := map[string]annotations.Spec{}
	for _, l := range lists {
		for _, s := range l {
			if prev, dup := byName[s.Name]; dup {
				pos := diagPos(s.Pos)
				diags.Add(diag.Error, pos, pos, "monitor %q of %s has the same name as the monitor of %s at %s: monitor names must be unique",
					s.Name, s.Target.FullName, prev.Target.FullName, prev.Pos)
				continue
			}
			byName[s.Name] = s
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, diags
}

// ChangedQueryFiles returns the changed query files (.yaml, .yml) under
// dir, a directory relative to the repository root, at the head and at
// the base of a change, as ChangedSchemaFiles does for schemas.
func ChangedQueryFiles(files []forge.ChangedFile, dir string) (head, base []string) {
	dir = strings.Trim(path.Clean(filepath.ToSlash(dir)), "/")
	under := func(p string) bool {
		return p != "" && queryfile.IsQueryFile(p) && (dir == "." || strings.HasPrefix(path.Clean(p), dir+"/"))
	}
	return changedFiles(files, under)
}
