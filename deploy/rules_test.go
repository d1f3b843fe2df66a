package deploy_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// ruleFile is a Prometheus rules file, decoded strictly as
// model/rulefmt does.
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	Alert       string            `yaml:"alert,omitempty"`
	Record      string            `yaml:"record,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

const rulesFile = "prometheus/esm-rules.yaml"

func readRules(t *testing.T) ruleFile {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(mustRead(t, rulesFile)))
	dec.KnownFields(true)
	var f ruleFile
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return f
}

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown file.
func headingAnchors(t *testing.T, file string) map[string]bool {
	t.Helper()
	anchors := map[string]bool{}
	inFence := false
	for _, line := range strings.Split(string(mustRead(t, file)), "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				b.WriteRune(r)
			}
		}
		anchors[b.String()] = true
	}
	return anchors
}

func TestAlertRules(t *testing.T) {
	f := readRules(t)
	if len(f.Groups) == 0 {
		t.Fatalf("%s: no groups", rulesFile)
	}
	anchors := headingAnchors(t, "README.md")
	alerts := map[string]bool{}
	for _, g := range f.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("%s: group %q: want a name and rules", rulesFile, g.Name)
		}
		for i, r := range g.Rules {
			where := fmt.Sprintf("%s: group %s: rule %d (%s)", rulesFile, g.Name, i+1, r.Alert)
			if r.Alert == "" {
				t.Errorf("%s: not an alerting rule", where)
				continue
			}
			if alerts[r.Alert] {
				t.Errorf("%s: alert %s defined twice", where, r.Alert)
			}
			alerts[r.Alert] = true
			if strings.TrimSpace(r.Expr) == "" {
				t.Errorf("%s: no expr", where)
			}
			if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
				t.Errorf("%s: for %q: want a positive duration", where, r.For)
			}
			switch r.Labels["severity"] {
			case "critical", "warning", "info":
			default:
				t.Errorf("%s: severity %q: want critical, warning or info", where, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no annotation %s", where, a)
				}
			}
			if u := r.Annotations["runbook_url"]; u != "" {
				_, anchor, _ := strings.Cut(u, "#")
				if !strings.Contains(u, "/deploy/README.md#") || !anchors[anchor] {
					t.Errorf("%s: runbook_url %s: want deploy/README.md#<a heading of deploy/README.md>", where, u)
				}
			}
			for _, problem := range queryProblems(r.Expr) {
				t.Errorf("%s: %s", where, problem)
			}
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not on PATH: rules checked by this test alone")
		return
	}
	if out, err := exec.Command(promtool, "check", "rules", rulesFile).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules %s: %v\n%s", rulesFile, err, out)
	} else {
		t.Logf("promtool check rules: %s", bytes.TrimSpace(out))
	}
}

// TestAlertRulesFire runs the unit tests of testdata/esm-rules.test.yaml
// with promtool, when it is installed. promtool compares annotations too;
// the test cases care about when and with which labels an alert fires, so
// they run against a copy of the rules without annotations.
func TestAlertRulesFire(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH")
	}
	f := readRules(t)
	for i := range f.Groups {
		for j := range f.Groups[i].Rules {
			f.Groups[i].Rules[j].Annotations = nil
		}
	}
	b, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "esm-rules.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := mustRead(t, "testdata/esm-rules.test.yaml")
	if err := os.WriteFile(filepath.Join(dir, "esm-rules.test.yaml"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "test", "rules", "esm-rules.test.yaml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules testdata/esm-rules.test.yaml: %v\n%s", err, out)
	}
	t.Logf("promtool test rules: %s", bytes.TrimSpace(out))
}
