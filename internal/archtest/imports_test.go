package archtest

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/esm-dev/esm/"

// allowed lists, for each package, the module packages it may import.
// Packages not listed (cmd/..., test helpers) may import anything.
var allowed = map[string][]string{
	"annotations":         {},
	"webhook":             {},
	"internal/diag":       {},
	"internal/forge":      {},
	"internal/idl":        {"internal/diag"},
	"internal/config":     {"annotations", "internal/yamlerr"},
	"internal/yamlerr":    {},
	"internal/monitor":    {"annotations", "internal/diag"},
	"internal/report":     {"internal/monitor", "internal/diag", "annotations"},
	"internal/reconcile":  {"internal/idl", "annotations", "internal/monitor", "internal/report", "internal/config", "internal/diag", "internal/forge", "internal/queryfile"},
	"internal/datadog":    {"internal/monitor", "annotations", "internal/redact"},
	"internal/localstore": {"internal/monitor", "annotations", "internal/diag"},
	"internal/planfile":   {"internal/monitor", "internal/diag"}, // saved plans (esm plan --out, esm apply FILE)
	"internal/prometheus": {"internal/monitor", "annotations"},
	"internal/github":     {"internal/forge", "internal/redact"},
	"internal/collector":  {"internal/idl", "internal/diag", "internal/dirwatch"},
	"internal/dirwatch":   {},
	"internal/metrics":    {},
	"internal/httplimit":  {},
	"internal/redact":     {},
	// Query files: their format and their monitors, on yaml alone, so
	// that reconcile can read them without linking a database driver.
	"internal/queryfile": {"internal/diag", "annotations", "internal/yamlerr"},
	// Query monitors: runner, scheduler and result store; the database
	// drivers and the S3 client are its own SDKs.
	"internal/queries": {"internal/diag", "internal/queryfile"},

	// Alertmanager routing for the channels of the specs.
	"internal/alertmanager": {"annotations"},
}

// forbidden lists third-party imports a package must not have: the use
// case and the domain never talk to an SDK, and the public vocabulary
// stays on the standard library.
var forbidden = map[string][]string{
	"annotations":        {"github.com/", "gopkg.in/"},
	"internal/monitor":   {"github.com/DataDog/", "github.com/google/go-github", "github.com/prometheus/", "github.com/go-chi/"},
	"internal/reconcile": {"github.com/DataDog/", "github.com/google/go-github", "github.com/prometheus/", "github.com/go-chi/", "net/http"},
	"internal/idl":       {"github.com/"},
	"internal/diag":      {"github.com/"},
	"internal/forge":     {"github.com/"},
	// The query-file format stays on yaml (gopkg.in/yaml.v3).
	"internal/queryfile": {"github.com/"},
	// The query runner hands results to a Sink; exporting them is the
	// metrics package's job.
	"internal/queries": {"github.com/prometheus/", "github.com/DataDog/"},
}

func TestImportsFollowTheLayout(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		seen[rel] = true
		checkPackage(t, rel, pkg.Imports)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for p := range allowed {
		if !seen[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("packages of the layout table not found: %v", missing)
	}
}

func checkPackage(t *testing.T, pkg string, imports []string) {
	t.Helper()
	ok, listed := allowed[pkg]
	for _, imp := range imports {
		if listed && strings.HasPrefix(imp, module) {
			target := strings.TrimPrefix(imp, module)
			if !contains(ok, target) {
				t.Errorf("%s imports %s; the layout allows only %v", pkg, target, ok)
			}
		}
		for _, bad := range forbidden[pkg] {
			if strings.HasPrefix(imp, bad) && !strings.HasPrefix(imp, module) {
				t.Errorf("%s imports %s, which it must not (%s...)", pkg, imp, bad)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// useCaseCalls are the steps of the use case that only reconcile.Run
// takes: a plan, its guard and its application.
var useCaseCalls = []string{"monitor.Diff", "monitor.CheckGuard", "monitor.Apply"}

// The plan → guard → apply flow exists once, in internal/reconcile: the
// CLI and the bot call reconcile.Run, and no other non-test code plans or
// applies on its own.
func TestOneUseCase(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		dir := filepath.ToSlash(filepath.Dir(rel))
		if dir == "internal/reconcile" || dir == "internal/monitor" {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && contains(useCaseCalls, x.Name+"."+sel.Sel.Name) {
				t.Errorf("%s calls %s.%s: plan and apply through reconcile.Run", rel, x.Name, sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
