package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/esm-dev/esm/internal/testenv"
)

// driversAndSDKs are the packages that run queries and store their
// results: the database drivers and the AWS SDK (the S3 result store).
var driversAndSDKs = []string{"github.com/jackc/pgx", "github.com/go-sql-driver/mysql", "modernc.org/sqlite", "github.com/aws/"}

// forbiddenDeps lists, for a package, what must not be in its dependency
// closure (go list -deps: what it links, through any chain of imports),
// where forbidden only checks its own imports. A path ending in / forbids
// everything under it; any other a package and the packages below it.
var forbiddenDeps = map[string][]string{
	// The use case plans the monitors of query files without linking
	// what runs the queries.
	"internal/reconcile": append([]string{module + "internal/queries"}, driversAndSDKs...),
	// The query-file format is read by reconcile: it links yaml, not
	// the runner.
	"internal/queryfile": append([]string{module + "internal/queries"}, driversAndSDKs...),
}

// TestDependencyClosures checks what each package of forbiddenDeps links,
// as the go command resolves it.
func TestDependencyClosures(t *testing.T) {
	goTool := findGo(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for pkg, bad := range forbiddenDeps {
		t.Run(pkg, func(t *testing.T) {
			cmd := exec.Command(goTool, "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./"+pkg)
			cmd.Dir = root
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps ./%s: %v\n%s", pkg, err, stderr.String())
			}
			graph := parseImportGraph(out)
			if _, ok := graph[module+pkg]; !ok {
				t.Fatalf("go list -deps ./%s does not list %s itself: %q", pkg, module+pkg, out)
			}
			for _, chain := range forbiddenLinks(graph, module+pkg, bad) {
				t.Errorf("%s links %s, which it must not: %s", pkg, chain[len(chain)-1], strings.Join(chain, " → "))
			}
		})
	}
}

// findGo returns the go command: go test puts GOROOT/bin first on PATH.
// Without one the test skips, except under CI=true.
func findGo(t *testing.T) string {
	t.Helper()
	return testenv.Tool(t, "go test puts GOROOT/bin first on PATH", "go")
}

// parseImportGraph reads lines "pkg import import..." into a map from
// each package to its imports.
func parseImportGraph(out []byte) map[string][]string {
	graph := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		graph[f[0]] = f[1:]
	}
	return graph
}

// forbiddenLinks returns, for every entry of bad that a package reachable
// from root matches, the shortest chain of imports from root to such a
// package (module packages without the module's prefix), in bad's order.
func forbiddenLinks(graph map[string][]string, root string, bad []string) [][]string {
	from := map[string]string{root: ""}
	order := []string{root} // breadth first: the shortest chains first
	for i := 0; i < len(order); i++ {
		for _, imp := range graph[order[i]] {
			if _, seen := from[imp]; !seen {
				from[imp] = order[i]
				order = append(order, imp)
			}
		}
	}
	var chains [][]string
	for _, b := range bad {
		i := slices.IndexFunc(order[1:], func(p string) bool { return matchesPath(p, b) })
		if i < 0 {
			continue
		}
		var chain []string
		for q := order[i+1]; q != ""; q = from[q] {
			chain = append(chain, strings.TrimPrefix(q, module))
		}
		slices.Reverse(chain)
		chains = append(chains, chain)
	}
	return chains
}

// matchesPath reports whether the import path p is bad: under bad when it
// ends in /, else bad itself or a package below it.
func matchesPath(p, bad string) bool {
	if strings.HasSuffix(bad, "/") {
		return strings.HasPrefix(p, bad)
	}
	return p == bad || strings.HasPrefix(p, bad+"/")
}

// The closure check finds a forbidden package however deep it is linked,
// names the shortest chain once per rule, and does not mistake a
// neighbour (mysqlx) for it.
func TestForbiddenLinks(t *testing.T) {
	graph := map[string][]string{
		module + "internal/reconcile":    {module + "internal/config", module + "internal/queryfile", "fmt"},
		module + "internal/config":       {module + "internal/queries"},
		module + "internal/queries":      {"github.com/jackc/pgx/v5/stdlib", "github.com/aws/aws-sdk-go-v2/service/s3", module + "internal/queryfile"},
		module + "internal/queryfile":    {"gopkg.in/yaml.v3", "github.com/go-sql-driver/mysqlx"},
		"github.com/jackc/pgx/v5/stdlib": {"github.com/jackc/pgx/v5"},
	}
	tests := []struct {
		root string
		want [][]string
	}{
		{module + "internal/reconcile", [][]string{
			{"internal/reconcile", "internal/config", "internal/queries"},
			{"internal/reconcile", "internal/config", "internal/queries", "github.com/jackc/pgx/v5/stdlib"},
			{"internal/reconcile", "internal/config", "internal/queries", "github.com/aws/aws-sdk-go-v2/service/s3"},
		}},
		{module + "internal/queryfile", nil},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.root, module), func(t *testing.T) {
			got := forbiddenLinks(graph, tt.root, forbiddenDeps["internal/reconcile"])
			if !slices.EqualFunc(got, tt.want, slices.Equal[[]string]) {
				t.Errorf("forbiddenLinks(%s) = %q, want %q", tt.root, got, tt.want)
			}
		})
	}
}
