package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/idl"
)

// The examples under schemas/ are what a newcomer runs first: they must
// validate without errors or warnings.
func TestValidateRepositorySchemas(t *testing.T) {
	r := runESM(t, "validate", filepath.Join("..", "..", "schemas"))
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr)
	files, err := filepath.Glob(filepath.Join("..", "..", "schemas", "*.avdl"))
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("validated %d files: 0 errors\n", len(files)), r.stdout)
}

func TestValidateGoodAndBadFile(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"good.avdl": shopIDL,
		"sub/bad.avdl": `@namespace("com.example.test")
protocol Bad {
  record R {
    strin id;
  }
}
`,
		"README.md": "not a schema\n",
	})
	r := runESM(t, "validate", dir)
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, "validated 2 files: 1 error in 1 file\n", r.stdout)
	bad := filepath.Join(dir, "sub", "bad.avdl")
	assert.Regexp(t, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(bad)+`:4:5: .*strin`), r.stderr,
		"the unknown type is located and named")
	assert.NotContains(t, r.stderr, "good.avdl")
}

// fakeLoader stands in for idl.LoadFile: it returns canned results by
// base name and records what was loaded.
type fakeLoader struct {
	mu      sync.Mutex
	results map[string]*idl.Result
	errs    map[string]error
	loaded  []string
	opts    []idl.Options
}

func (f *fakeLoader) load(path string, opts idl.Options) (*idl.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loaded = append(f.loaded, filepath.Base(path))
	f.opts = append(f.opts, opts)
	name := filepath.Base(path)
	if err := f.errs[name]; err != nil {
		return nil, err
	}
	if res := f.results[name]; res != nil {
		return res, nil
	}
	return &idl.Result{Files: []string{path}}, nil
}

// An .avsc or .avpr read through an .avdl import is not loaded on its own.
func TestValidateSkipsSchemasImportedByIDL(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"a.avdl":             "",
		"shared/inc.avsc":    "",
		"shared/proto.avpr":  "",
		"lone.avsc":          "",
		"notes.txt":          "",
		".hidden/skip.avdl":  "",
		"nested/.git/x.avsc": "",
	})
	f := &fakeLoader{results: map[string]*idl.Result{
		// Spelled differently from the walk: compared as absolute paths.
		"a.avdl": {Files: []string{
			filepath.Join(dir, "a.avdl"),
			filepath.Join(dir, "nested", "..", "shared", "inc.avsc"),
			filepath.Join(dir, "shared", "proto.avpr"),
		}},
	}}
	r := runWithLoader(t, f.load, "validate", dir)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr)
	assert.Equal(t, "validated 4 files: 0 errors\n", r.stdout)
	assert.Equal(t, []string{"a.avdl", "lone.avsc"}, f.loaded, ".avdl first; imported schemas not again")
}

// A problem reached through several loads is printed and counted once.
func TestValidateReportsEachProblemOnce(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"x.avdl":   "",
		"y.avdl":   "",
		"bad.avsc": "",
	})
	bad := filepath.Join(dir, "bad.avsc")
	problems := diag.List{
		{Severity: diag.Error, Pos: diag.Position{Filename: bad, Line: 2, Column: 5}, Message: `unknown type "lng"`},
		{Severity: diag.Warning, Pos: diag.Position{Filename: bad, Line: 1, Column: 1}, Message: "ignoring out-of-place documentation comment"},
	}
	f := &fakeLoader{errs: map[string]error{
		"x.avdl":   problems,
		"y.avdl":   problems,
		"bad.avsc": problems,
	}}
	r := runWithLoader(t, f.load, "validate", dir)
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, bad+":1:1: warning: ignoring out-of-place documentation comment\n"+
		bad+`:2:5: unknown type "lng"`+"\n", r.stderr, "sorted by position")
	assert.Equal(t, "validated 3 files: 1 error in 1 file, 1 warning\n", r.stdout)
	assert.Equal(t, []string{"x.avdl", "y.avdl", "bad.avsc"}, f.loaded,
		"a failed load covers no imports, so bad.avsc is loaded on its own too")
}

func TestValidateCountsErrorsPerFile(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"a.avdl": "", "b.avdl": "", "ok.avdl": ""})
	a, b := filepath.Join(dir, "a.avdl"), filepath.Join(dir, "b.avdl")
	at := func(file string, line int, msg string) *diag.Diagnostic {
		return &diag.Diagnostic{Pos: diag.Position{Filename: file, Line: line, Column: 1}, Message: msg}
	}
	f := &fakeLoader{
		errs: map[string]error{
			"a.avdl": diag.List{at(a, 1, "one"), at(a, 2, "two")},
			// Wrapped, as a loader may do: errors.As still finds the list.
			"b.avdl": wrapErr{diag.List{at(b, 3, "three")}},
		},
		results: map[string]*idl.Result{
			"ok.avdl": {Warnings: diag.List{{Severity: diag.Warning, Message: "no position"}}},
		},
	}
	r := runWithLoader(t, f.load, "validate", dir)
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, "validated 3 files: 3 errors in 2 files, 1 warning\n", r.stdout)
	assert.Equal(t, a+":1:1: one\n"+a+":2:1: two\n"+b+":3:1: three\n-: warning: no position\n", r.stderr)
}

type wrapErr struct{ err error }

func (e wrapErr) Error() string { return "load: " + e.err.Error() }
func (e wrapErr) Unwrap() error { return e.err }

func TestValidatePlainLoadErrors(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"a.avdl": "", "b.avsc": ""})
	imported := filepath.Join(dir, "inc.avsc")
	f := &fakeLoader{errs: map[string]error{
		"a.avdl": &fs.PathError{Op: "open", Path: imported, Err: fs.ErrPermission},
		"b.avsc": errors.New("unexpected end of JSON input\nat offset 0"),
	}}
	r := runWithLoader(t, f.load, "validate", dir)
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, filepath.Join(dir, "b.avsc")+": unexpected end of JSON input; at offset 0\n"+
		imported+": permission denied\n", r.stderr, "sorted by file")
	assert.Equal(t, "validated 2 files: 2 errors in 2 files\n", r.stdout)
}

func TestValidatePaths(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"good/a.avdl":  "",
		"good/b.avsc":  "",
		"empty/x.json": "{}",
		"notes.txt":    "",
	})
	in := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }
	require.NoError(t, os.Symlink(in("good"), in("link")))
	tests := []struct {
		name       string
		args       []string
		code       int
		stderr     string // a line of standard error, or "" for none
		summary    string
		wantLoaded []string
	}{
		{"directory", []string{in("good")}, exitOK, "", "validated 2 files: 0 errors", []string{"a.avdl", "b.avsc"}},
		{"single file", []string{in("good/b.avsc")}, exitOK, "", "validated 1 file: 0 errors", []string{"b.avsc"}},
		{"file named twice", []string{in("good"), in("good/../good/a.avdl")}, exitOK, "", "validated 2 files: 0 errors", []string{"a.avdl", "b.avsc"}},
		{"missing path", []string{in("nope"), in("good/a.avdl")}, exitFailure, in("nope") + ": ",
			"validated 1 file: 1 error in 1 file", []string{"a.avdl"}},
		{"not a schema file", []string{in("notes.txt")}, exitFailure,
			in("notes.txt") + ": not an Avro schema file (want .avdl, .avsc or .avpr)", "validated 0 files: 1 error in 1 file", nil},
		{"directory without schemas", []string{in("empty")}, exitFailure,
			in("empty") + ": no .avdl, .avsc or .avpr file in this directory", "validated 0 files: 1 error in 1 file", nil},
		{"directory through a symbolic link", []string{in("link")}, exitOK, "", "validated 2 files: 0 errors", []string{"a.avdl", "b.avsc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeLoader{}
			r := runWithLoader(t, f.load, append([]string{"validate"}, tt.args...)...)
			assert.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			if tt.stderr == "" {
				assert.Empty(t, r.stderr)
			} else {
				assert.True(t, strings.HasPrefix(r.stderr, tt.stderr), "stderr %q starts with %q", r.stderr, tt.stderr)
			}
			assert.Equal(t, tt.summary+"\n", r.stdout)
			assert.Equal(t, tt.wantLoaded, f.loaded)
		})
	}
}

func TestValidatePassesImportDirs(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"a.avdl": "", "b.avsc": ""})
	f := &fakeLoader{}
	r := runWithLoader(t, f.load, "validate", "-I", "lib1", "--import-dir", "lib2", dir)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	require.Len(t, f.opts, 2)
	for _, o := range f.opts {
		assert.Equal(t, []string{"lib1", "lib2"}, o.ImportPaths)
	}
}

// Without a path, validate checks ./schemas.
func TestValidateDefaultPath(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"schemas/a.avdl": "", "other/b.avdl": ""})
	t.Chdir(dir)
	f := &fakeLoader{}
	r := runWithLoader(t, f.load, "validate")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "validated 1 file: 0 errors\n", r.stdout)
	assert.Equal(t, []string{"a.avdl"}, f.loaded)

	require.NoError(t, os.RemoveAll(filepath.Join(dir, "schemas")))
	r = runWithLoader(t, f.load, "validate")
	assert.Equal(t, exitFailure, r.code)
	assert.True(t, strings.HasPrefix(r.stderr, "schemas: "), "names the default path: %q", r.stderr)
}

// brokenTreeSchema is a protocol with one record carrying params as its
// monitor's parameters (and a channel), the annotation at line 3, column 3, the record's
// name at line 4, column 10.
func brokenTreeSchema(namespace, record, params string) string {
	return fmt.Sprintf("@namespace(%q) @alert_channel(\"team-a\")\nprotocol P {\n  @traffic_anomaly_monitor(%s)\n  record %s { string id; }\n}\n", namespace, params, record)
}

// validate runs every check plan runs short of the store; before, it
// only parsed the schemas and passed each of these trees. want are
// regular expressions, each matching a whole line of standard error, with
// "DIR/" standing for the tree's directory.
func TestValidateRunsPlansChecks(t *testing.T) {
	ok := brokenTreeSchema("shop", "Ok", "{}")
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		want  []string
	}{
		{
			name:  "bad annotation parameter",
			files: map[string]string{"schemas/a.avdl": brokenTreeSchema("shop", "Cart", `{"deviations": -1}`)},
			want:  []string{`DIR/schemas/a\.avdl:3:43: deviations must be greater than 0 and at most 10, not -1`},
		},
		{
			name: "layering conflict with esm.yaml in one environment",
			files: map[string]string{
				"esm.yaml": "environments:\n  prod: {}\n  staging:\n    defaults:\n      traffic_anomaly_monitor:\n        seasonality: weekly\n",
				// The annotation chooses basic; staging's esm.yaml layer adds weekly.
				"schemas/a.avdl": brokenTreeSchema("shop", "Cart", `{"algorithm": "basic"}`),
			},
			// Blamed at the annotation's value (the more specific layer), naming
			// the esm.yaml value, as staging's only.
			want: []string{`DIR/schemas/a\.avdl:3:42: seasonality "weekly" cannot be used with the basic algorithm.*\(seasonality is set at esm\.yaml:6:22; "seasonality": null here clears it\) \(environment staging\)`},
		},
		{
			name: "two records with the same monitor name",
			files: map[string]string{
				"schemas/a.avdl": brokenTreeSchema("a", "Same", "{}"),
				"schemas/b.avdl": brokenTreeSchema("b", "Same", "{}"),
			},
			want: []string{`DIR/schemas/b\.avdl:3:3: monitor "Traffic Anomaly with Same" of b\.Same has the same name as the monitor of a\.Same \(DIR/schemas/a\.avdl:3\).*`},
		},
		{
			name: "a record in two files",
			files: map[string]string{
				"schemas/a.avdl": brokenTreeSchema("shop", "Cart", "{}"),
				"schemas/b.avdl": brokenTreeSchema("shop", "Cart", "{}"),
			},
			want: []string{`DIR/schemas/b\.avdl:4:10: record shop\.Cart is declared in more than one file: also at DIR/schemas/a\.avdl:4:10`},
		},
		{
			name: "a bad esm.yaml",
			files: map[string]string{
				"esm.yaml":       "environments:\n  prod:\n    max_deletes: -1\n  staging:\n    metric: 9lives\n",
				"schemas/a.avdl": ok,
			},
			want: []string{
				`esm\.yaml:3:18: environments\.prod\.max_deletes must not be negative`,
				`esm\.yaml:5:13: environments\.staging\.metric "9lives" is not a valid Datadog metric name: .*`,
			},
		},
		{
			name: "an unknown key in --config",
			files: map[string]string{
				"other.yaml":     "defaults:\n  traffic_anomaly_monitor:\n    deviations: 3\nenvironmentz: {}\n",
				"schemas/a.avdl": ok,
			},
			args: []string{"--config", "DIR/other.yaml"},
			want: []string{`DIR/other\.yaml:4(:1)?: unknown key "environmentz"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, t.TempDir(), tt.files)
			t.Chdir(dir) // esm.yaml is found in the working directory, and named relative to it
			var args []string
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "DIR", dir))
			}
			r := runESM(t, append(append([]string{"validate"}, args...), filepath.Join(dir, "schemas"))...)
			assert.Equal(t, exitFailure, r.code, "stderr: %s", r.stderr)
			for _, w := range tt.want {
				re := `(?m)^` + strings.ReplaceAll(w, "DIR/", regexp.QuoteMeta(dir+string(filepath.Separator))) + `$`
				assert.Regexp(t, regexp.MustCompile(re), r.stderr)
			}
			assert.Len(t, strings.Split(strings.TrimSpace(r.stderr), "\n"), len(tt.want),
				"each problem once, across environments: %s", r.stderr)
			assert.Contains(t, r.stdout, fmt.Sprintf("%d error", len(tt.want)))

			// plan finds the same problems at the same places, in one
			// environment or another.
			useLocalStore(t)
			planned := map[string]bool{}
			for _, env := range []string{"prod", "staging"} {
				p := runESM(t, append(append([]string{"plan", "--env", env, "--state-dir", t.TempDir()}, args...), filepath.Join(dir, "schemas"))...)
				for w := range problemPlaces(p.stderr) {
					planned[w] = true
				}
			}
			assert.Equal(t, planned, problemPlaces(r.stderr), "plan: the same problems at the same places")
		})
	}
}

// problemPlaces returns where each line of stderr places its problem:
// "file:line:col", or "file" for a problem of a whole file; plan's
// closing "esm: ..." line is none.
func problemPlaces(stderr string) map[string]bool {
	place := regexp.MustCompile(`^(.+?:\d+:\d+|[^:\s]+): `)
	out := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if m := place.FindStringSubmatch(line); m != nil && m[1] != "esm" {
			out[m[1]] = true
		}
	}
	return out
}

// --env restricts the check to one environment; a problem of the only
// environment checked needs no environment named.
func TestValidateEnv(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"esm.yaml":       "environments:\n  prod: {}\n  staging:\n    defaults:\n      traffic_anomaly_monitor:\n        seasonality: weekly\n",
		"schemas/a.avdl": brokenTreeSchema("shop", "Cart", `{"algorithm": "basic"}`),
	})
	t.Chdir(dir)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // a regular expression for all of standard error
	}{
		{"prod only", []string{"--env", "prod"}, exitOK, `^$`},
		{"staging only", []string{"--env", "staging"}, exitFailure, `^\S+:\d+:\d+: [^\n]*seasonality[^\n]*\(seasonality is set at [^\n]*\)\n$`},
		{"every environment", nil, exitFailure, `^\S+:\d+:\d+: .*seasonality.* \(environment staging\)\n$`},
		{"unknown environment", []string{"--env", "nope"}, exitFailure, `^esm: unknown environment "nope": configured environments are prod, staging\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runESM(t, append([]string{"validate"}, tt.args...)...)
			assert.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			assert.Regexp(t, regexp.MustCompile(tt.stderr), r.stderr)
		})
	}
}

// One record declared in two files gets one verdict, at both positions,
// from validate, plan and the collector of serve.
func TestRecordInTwoFilesOneVerdict(t *testing.T) {
	useLocalStore(t)
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"schemas/a.avdl": brokenTreeSchema("shop", "Cart", "{}"),
		"schemas/b.avdl": brokenTreeSchema("shop", "Cart", `{"deviations": 4}`),
	})
	t.Chdir(dir)
	verdict := filepath.Join("schemas", "b.avdl") + ":4:10: record shop.Cart is declared in more than one file: also at " +
		filepath.Join("schemas", "a.avdl") + ":4:10"

	r := runESM(t, "validate")
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, verdict+"\n", r.stderr)

	r = runESM(t, "plan", "--env", "prod")
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, verdict+"\nesm: 1 error in the schemas; nothing was planned\n", r.stderr)

	cfg := testServeConfig("")
	cfg.role, cfg.schemas = "collector", "schemas"
	_, err := newServer(cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), verdict)
}

// TestValidateRendersWithEachEnvironmentsBackend: validate renders each
// environment's monitors through the backend esm.yaml gives it, as plan
// does: what the Prometheus renderer refuses is an error in the
// environments on Prometheus only, a monitor without a Prometheus form a
// warning there; --backend checks every environment with one backend.
func TestValidateRendersWithEachEnvironmentsBackend(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, ".git"), 0o755))
	writeFiles(t, dir, map[string]string{
		"esm.yaml": "databases:\n  main: {driver: sqlite, dsn: \":memory:\"}\n" +
			"environments:\n  prod:\n    backend: prometheus\n    rules_dir: rules\n  staging: {}\n",
		"schemas/shop.avdl": volumeAndLogIDL,
		"queries/orders.yaml": `name: orders
db: main
query: SELECT country, count(*) FROM orders GROUP BY country
labels: [country]
alert_channel: team-data
monitors:
  - threshold: {below: 10}
  - anomaly: {count_default_zero: true}
`,
	})
	t.Chdir(dir)
	const (
		refused = `queries/orders.yaml:8:5: count_default_zero: the Prometheus rule cannot count a missing row as zero, since a query with label columns does not say which rows to expect; set count_default_zero: false`
		noForm  = `schemas/shop.avdl:5:3: warning: @log_monitor has no Prometheus form: it searches Datadog's logs, which Prometheus does not have; the plan skips it`
	)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
		stdout string
	}{
		{"every environment", nil, exitFailure, refused + " (environment prod)\n" + noForm + " (environment prod)\n",
			"validated 2 files: 1 error in 1 file, 1 warning\n"},
		{"prod on Prometheus", []string{"--env", "prod"}, exitFailure, refused + "\n" + noForm + "\n", "validated 2 files: 1 error in 1 file, 1 warning\n"},
		{"staging on Datadog", []string{"--env", "staging"}, exitOK, "", "validated 2 files: 0 errors\n"},
		{"--backend prometheus for staging", []string{"--env", "staging", "--backend", "prometheus"}, exitFailure, refused + "\n" + noForm + "\n",
			"validated 2 files: 1 error in 1 file, 1 warning\n"},
		{"--backend datadog for every environment", []string{"--backend", "datadog"}, exitOK, "", "validated 2 files: 0 errors\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runESM(t, append([]string{"validate"}, tt.args...)...)
			assert.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, tt.stderr, r.stderr)
			assert.Equal(t, tt.stdout, r.stdout)
		})
	}
	r := runESM(t, "validate", "--backend", "nagios")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, `--backend must be datadog or prometheus, not "nagios"`)

	// The plan of prod refuses the anomaly as validate does.
	useLocalStore(t)
	p := runESM(t, "plan", "--env", "prod", "--state-dir", t.TempDir())
	assert.Equal(t, exitFailure, p.code, "stdout: %s", p.stdout)
	assert.Contains(t, p.stderr, "count_default_zero: the Prometheus rule cannot count a missing row as zero")
}
