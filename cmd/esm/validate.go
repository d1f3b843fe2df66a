package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/datadog"
	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/idl"
	"github.com/esm-dev/esm/internal/prometheus"
	"github.com/esm-dev/esm/internal/queryfile"
	"github.com/esm-dev/esm/internal/reconcile"
)

// defaultValidatePath is the schema PATH esm reads without arguments,
// at the repository root.
const defaultValidatePath = "schemas"

// validateCmd is "esm validate".
func (a *app) validateCmd() *cobra.Command {
	var importDirs []string
	var env, configFile, queriesFlag, backend string
	cmd := &cobra.Command{
		DisableFlagsInUseLine: true,
		Use:                   "validate [--env ENV] [--config FILE] [-I DIR]... [--queries DIR] [--backend datadog|prometheus] [PATH...]",
		Short:                 "Check schemas, annotations and esm.yaml as plan does, without the store",
		Long: `Run every check "esm plan" runs short of reading the store: the
configuration (esm.yaml at the repository root when it exists, or FILE),
every .avdl, .avsc and .avpr file under each PATH (a file or a directory
searched recursively; directories whose name starts with "." are skipped),
and the monitors their annotations ask for in every configured environment
(only ENV with --env): annotation parameters, their layering with esm.yaml,
the rules of the environment's backend (environments.<env>.backend in
esm.yaml, or --backend for every environment: Datadog's, or what the
Prometheus renderer refuses; a monitor without a Prometheus form is a
warning, as plan skips it with a note), two records with one monitor name,
one record declared in two files. Without PATH, the directory "schemas" at the repository root
(the nearest directory up from here holding .git or esm.yaml) is checked,
and so are the query files under --queries (ESM_QUERIES; default
"queries" at the root, when it exists): their keys, their databases and
the monitors they declare, as plan makes them. A PATH under the query
directory, or a .yaml or .yml file, is checked as query files.

Every .avdl file is loaded with its imports. A .avsc or .avpr file is then
loaded on its own only if no .avdl file imported it, so that a schema that
is only meaningful as an import is not reported out of context.

Every problem is printed once to standard error as file:line:col: message,
warnings included; one that concerns only some environments ends with
"(environment ENV)". A summary line goes to standard output. The exit
status is 1 if there is any error: an invalid schema, annotation or
configuration, a PATH that does not exist, or a directory without schema
files ("esm plan" and "esm apply" refuse such a PATH too).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch backend {
			case "", config.BackendDatadog, config.BackendPrometheus:
			default:
				return usagef("--backend must be %s or %s, not %q", config.BackendDatadog, config.BackendPrometheus, backend)
			}
			root := findRepoRoot()
			whole := len(args) == 0
			if whole {
				args = []string{root.schemas()}
			}
			v := &validation{w: a.stderr, seen: map[string]bool{}, errorFiles: map[string]bool{}}
			qdir, explicit := root.queriesDir(queriesFlag)
			args, qsrc, problems := splitQueryPaths(args, qdir, explicit, whole)
			v.pathProblems(problems)
			cfg := v.config(root.configFile(configFile))
			var envs []string
			if cfg != nil {
				envs = cfg.EnvNames()
				if env != "" {
					if _, err := cfg.Env(env); err != nil {
						return err
					}
					envs = []string{env}
				}
			}
			files := v.collect(args)
			results := v.check(files, a.load, idl.Options{ImportPaths: importDirs})
			types, dups := idl.MergeTypes(results)
			v.diagnostics("", dups)
			qfiles := qsrc.files()
			if cfg != nil {
				v.monitors(cfg, envs, backend, types, qsrc)
			} else {
				v.queryFiles(qfiles)
			}
			v.print()
			if _, err := fmt.Fprintln(a.stdout, v.summary(len(files)+len(qfiles))); err != nil {
				return fmt.Errorf("write summary: %w", err)
			}
			if v.errors > 0 {
				return errReported
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "check the monitors of `ENV` only (default: every configured environment)")
	addConfigFlag(cmd, &configFile)
	addImportDirFlag(cmd, &importDirs)
	addQueriesFlag(cmd, &queriesFlag)
	cmd.Flags().StringVar(&backend, "backend", "", "check every environment's monitors with `BACKEND`'s renderer, datadog or prometheus (default: each environment's backend in esm.yaml)")
	return cmd
}

// validation is one run of "esm validate". Problems are recorded each
// distinct one once (a file imported by two .avdl files would otherwise
// be reported twice, a problem of every environment once per
// environment), then printed sorted by file and position.
type validation struct {
	w          io.Writer
	seen       map[string]bool // problems already recorded, as rendered
	lines      []problemLine   // the problems, to print sorted
	errors     int
	warnings   int
	errorFiles map[string]bool // absolute paths of the files with errors
}

// schemaPathError is a PATH argument, or a directory under one, that
// yields no schema file: it does not exist, cannot be read, is not a
// schema file, or is a directory without one.
type schemaPathError struct {
	path string
	msg  string
}

func (e *schemaPathError) Error() string { return e.path + ": " + e.msg }

// findSchemaFiles returns the schema files (.avdl, .avsc, .avpr) under
// paths, each a file or a directory searched recursively (skipping
// directories whose name starts with "."; a directory reached through a
// symbolic link is searched too), each file once, in the order found. It
// returns a *schemaPathError for every path that does not exist, is not a
// schema file or holds no schema file, and for every directory that
// cannot be read. validate, plan and apply all check their paths with it:
// a path without schemas is never read as "no monitors", which would
// plan the deletion of every monitor of the environment.
func findSchemaFiles(paths []string) (files []string, problems []error) {
	seen := map[string]bool{}
	add := func(path string) {
		if key := absPath(path); !seen[key] {
			seen[key] = true
			files = append(files, path)
		}
	}
	problem := func(path, msg string) {
		problems = append(problems, &schemaPathError{path: path, msg: oneLine(msg)})
	}
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			problem(root, err.Error())
			continue
		}
		if !info.IsDir() {
			if !idl.IsSchemaFile(root) {
				problem(root, "not an Avro schema file (want .avdl, .avsc or .avpr)")
				continue
			}
			add(root)
			continue
		}
		walkRoot := root
		if l, err := os.Lstat(root); err == nil && l.Mode()&fs.ModeSymlink != 0 {
			// WalkDir does not follow a root that is a symbolic link;
			// with a trailing separator the system resolves it, and the
			// files found keep the path as the user spelled it.
			walkRoot = root + string(filepath.Separator)
		}
		found := 0
		// The callback handles every error itself, so WalkDir returns nil.
		_ = filepath.WalkDir(walkRoot, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					problem(pe.Path, pe.Err.Error())
				} else {
					problem(path, err.Error())
				}
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if path != walkRoot && strings.HasPrefix(d.Name(), ".") {
					return fs.SkipDir
				}
				return nil
			}
			if idl.IsSchemaFile(path) {
				found++
				add(path)
			}
			return nil
		})
		if found == 0 {
			problem(root, "no .avdl, .avsc or .avpr file in this directory")
		}
	}
	return files, problems
}

// collect returns the schema files under paths (findSchemaFiles) and
// reports every path without them as an error.
func (v *validation) collect(paths []string) []string {
	files, problems := findSchemaFiles(paths)
	v.pathProblems(problems)
	return files
}

// pathProblems reports each PATH without schema or query files as an
// error.
func (v *validation) pathProblems(problems []error) {
	for _, err := range problems {
		var pe *schemaPathError
		if errors.As(err, &pe) {
			v.problem(pe.path, diag.Position{}, diag.Error, pe.Error())
		}
	}
}

// queryFiles reports the problems of the query files on their own, when
// the configuration has errors: their databases and monitors cannot be
// checked.
func (v *validation) queryFiles(files []string) {
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			v.plainError(f, err)
			continue
		}
		_, list := queryfile.ParseFile(f, src, queryfile.ParseOptions{})
		v.diagnostics(f, list)
	}
}

// check loads every .avdl file, then every .avsc and .avpr file that no
// .avdl load read (idl.Visit), reports what each load found and returns
// the results.
func (v *validation) check(files []string, load loadFunc, opts idl.Options) []*idl.Result {
	var results []*idl.Result
	idl.Visit(files, opts, load, func(path string, res *idl.Result, err error) {
		if res != nil {
			results = append(results, res)
			v.diagnostics(path, res.Warnings)
		}
		if err != nil {
			v.loadError(path, err)
		}
	})
	return results
}

// config loads the configuration file (reconcile.LoadConfig; "" for
// esm.yaml in the working directory when it exists, else the built-in
// one) and reports each of its problems. It returns nil when there is
// any.
func (v *validation) config(file string) *config.Config {
	cfg, err := reconcile.LoadConfig(file)
	if err == nil {
		return cfg
	}
	if file == "" {
		file = config.DefaultFile
	}
	var list diag.List
	if errors.As(err, &list) {
		v.diagnostics(file, list)
		return nil
	}
	for _, e := range leafErrors(err) {
		for _, line := range strings.Split(strings.TrimSpace(e.Error()), "\n") {
			v.problem(file, diag.Position{}, diag.Error, line)
		}
	}
	return nil
}

// leafErrors returns the errors joined in err (errors.Join), depth first,
// or err itself.
func leafErrors(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, leafErrors(e)...)
	}
	return out
}

// monitors reports the problems of the monitors the annotations of types
// and the query files of qsrc ask for in each of envs
// (reconcile.SpecsFromTypes and reconcile.LoadQuerySpecs, as plan
// computes them) rendered by each environment's backend (backend, when
// set, for all), and of the query files themselves, sorted, each once: a
// problem found in some of envs but not all names them, "(environment
// prod)".
func (v *validation) monitors(cfg *config.Config, envs []string, backend string, types []*idl.Schema, qsrc querySources) {
	var list diag.List
	envsOf := map[string][]string{}
	for _, env := range envs {
		specs, diags := reconcile.SpecsFromTypes(cfg, env, types)
		specs, diags = withQuerySpecs(cfg, env, qsrc, specs, diags)
		diags = append(diags, reconcile.RenderProblems(specs, validationRenderer(cfg, env, backend))...)
		for _, d := range diags {
			key := d.Error()
			if envsOf[key] == nil {
				list = append(list, d)
			}
			envsOf[key] = append(envsOf[key], env)
		}
	}
	list.Sort()
	for _, d := range list {
		if in := envsOf[d.Error()]; len(in) < len(envs) {
			word := "environment"
			if len(in) > 1 {
				word += "s"
			}
			named := *d
			named.Message = fmt.Sprintf("%s (%s %s)", d.Message, word, strings.Join(in, ", "))
			d = &named
		}
		v.problem(d.Pos.Filename, d.Pos, d.Severity, d.Error())
	}
}

// validationRenderer returns the renderer of env's backend, as plan
// opens it (openBackend): prometheus.RenderOne for the Prometheus
// backend, datadog.Render for those of Datadog's shape (Datadog, the
// local state store). backend, when set, is the backend of every
// environment (--backend).
func validationRenderer(cfg *config.Config, env, backend string) reconcile.Renderer {
	if backend == "" {
		if e, err := cfg.Env(env); err == nil {
			backend = e.Backend
		}
	}
	if backend == config.BackendPrometheus {
		return prometheus.RenderOne
	}
	return datadog.Render
}

// loadError reports the error of loading path: each diagnostic of a
// diag.List, or the error itself.
func (v *validation) loadError(path string, err error) {
	var list diag.List
	if !errors.As(err, &list) {
		v.plainError(path, err)
		return
	}
	v.diagnostics(path, list)
	if !list.HasErrors() {
		// The load failed but said why only in warnings, if at all.
		v.problem(path, diag.Position{}, diag.Error, path+": could not be loaded")
	}
}

// diagnostics reports each diagnostic; one without a file name is
// attributed to path, the file being loaded.
func (v *validation) diagnostics(path string, list diag.List) {
	for _, d := range list {
		file := d.Pos.Filename
		if file == "" {
			file = path
		}
		v.problem(file, d.Pos, d.Severity, d.Error())
	}
}

// plainError reports an error that is not a diagnostic as "file: message".
// A *fs.PathError names its own file, which may be an import of path.
func (v *validation) plainError(path string, err error) {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		v.problem(pe.Path, diag.Position{}, diag.Error, pe.Path+": "+oneLine(pe.Err.Error()))
		return
	}
	v.problem(path, diag.Position{}, diag.Error, path+": "+oneLine(err.Error()))
}

// problem records line, the problem at pos in file, unless it was
// recorded before, and counts it.
func (v *validation) problem(file string, pos diag.Position, sev diag.Severity, line string) {
	if v.seen[line] {
		return
	}
	v.seen[line] = true
	v.lines = append(v.lines, problemLine{file: file, line: pos.Line, col: pos.Column, text: line})
	if sev == diag.Warning {
		v.warnings++
		return
	}
	v.errors++
	v.errorFiles[absPath(file)] = true
}

// problemLine is one problem as printed, with where it is for sorting:
// line and col are 0 when the problem has no position.
type problemLine struct {
	file      string
	line, col int
	text      string
}

// print writes the problems, sorted by file, line and column; problems
// at one place keep the order they were found in.
func (v *validation) print() {
	sort.SliceStable(v.lines, func(i, j int) bool {
		a, b := v.lines[i], v.lines[j]
		if a.file != b.file {
			return a.file < b.file
		}
		if a.line != b.line {
			return a.line < b.line
		}
		return a.col < b.col
	})
	for _, l := range v.lines {
		fmt.Fprintln(v.w, l.text)
	}
}

// summary renders the last line of "esm validate", such as
// "validated 12 files: 3 errors in 2 files, 1 warning".
func (v *validation) summary(files int) string {
	s := fmt.Sprintf("validated %s: %s", plural(files, "file"), plural(v.errors, "error"))
	if v.errors > 0 {
		s += " in " + plural(len(v.errorFiles), "file")
	}
	if v.warnings > 0 {
		s += ", " + plural(v.warnings, "warning")
	}
	return s
}

// plural renders "1 file", "2 files", "0 files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// absPath returns the absolute, clean form of path, to compare paths
// spelled differently; the clean relative path if the working directory
// is unknown.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}
