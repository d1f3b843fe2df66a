package prometheus

import (
	"bytes"
	"fmt"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/esm-dev/esm/internal/monitor"
)

// ruleFile is a Prometheus rules file
// (https://prometheus.io/docs/prometheus/latest/configuration/recording_rules/#configuring-rules).
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

// ruleGroup is a group of rules. esm writes one group per monitor, named
// after it: its recording rules, then its alerting rules (critical, then
// warning). Prometheus evaluates a group's rules in order, so the alert
// reads the recording rules of the same evaluation.
type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

type rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// fileHeader starts every file esm writes.
const fileHeader = `# Written by esm apply from the monitor annotations of the schemas: esm
# rewrites this file as a whole. Groups without an alert labelled
# esm_monitor are kept as they are.
`

// FileError is a rules file esm cannot read, at the value at fault.
type FileError struct {
	File         string
	Line, Column int
	Msg          string
}

// Error says file:line:col: what is wrong.
func (e *FileError) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// The formats of the rules file.
const (
	// FormatRules is Prometheus' rule file format.
	FormatRules = "rules"
	// FormatPrometheusRule is the Prometheus Operator's PrometheusRule
	// object, whose spec.groups are the same groups
	// (https://prometheus-operator.dev/docs/api-reference/api/#monitoring.coreos.com/v1.PrometheusRule).
	FormatPrometheusRule = "prometheusrule"
)

// MaxFileSize bounds the rules file esm reads: 16 MiB, some ten thousand
// monitors.
const MaxFileSize = 16 << 20

// parsed is a rules file as esm reads it: the alerting rules it owns, as
// monitors, the groups it does not own, kept as written, and for a
// PrometheusRule its metadata, kept as written too (labels such as the
// one an Operator's ruleSelector matches).
type parsed struct {
	monitors []monitor.Monitor
	foreign  []*yaml.Node
	metadata *yaml.Node
}

// prometheusRule is a PrometheusRule object.
type prometheusRule struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Metadata   yaml.Node `yaml:"metadata"`
	Spec       struct {
		Groups []yaml.Node `yaml:"groups"`
	} `yaml:"spec"`
}

// parseRules reads a rules file. A group is esm's when one of its
// alerting rules has the esm_monitor label; its recording rules go with
// its first alerting rule, as Render puts them.
func parseRules(file, format string, data []byte) (*parsed, error) {
	if len(data) > MaxFileSize {
		return nil, &FileError{File: file, Msg: fmt.Sprintf("the file is larger than %d MiB: esm does not read it", MaxFileSize>>20)}
	}
	out := &parsed{}
	if len(bytes.TrimSpace(data)) == 0 {
		return out, nil
	}
	var groups []yaml.Node
	if format == FormatPrometheusRule {
		var obj prometheusRule
		if err := yaml.Unmarshal(data, &obj); err != nil {
			return nil, &FileError{File: file, Msg: err.Error()}
		}
		if obj.Kind != "PrometheusRule" {
			return nil, &FileError{File: file, Msg: fmt.Sprintf("kind %q is not PrometheusRule", obj.Kind)}
		}
		groups = obj.Spec.Groups
		if obj.Metadata.Kind != 0 {
			out.metadata = &obj.Metadata
		}
	} else {
		var doc struct {
			Groups []yaml.Node `yaml:"groups"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, &FileError{File: file, Msg: err.Error()}
		}
		groups = doc.Groups
	}
	var id int64
	for i := range groups {
		n := &groups[i]
		var g ruleGroup
		if err := n.Decode(&g); err != nil {
			return nil, &FileError{File: file, Line: n.Line, Column: n.Column, Msg: "group: " + err.Error()}
		}
		var records []monitor.RecordingRule
		var alerts []*monitor.AlertRule
		for _, r := range g.Rules {
			switch {
			case r.Record != "":
				records = append(records, monitor.RecordingRule{Record: r.Record, Expr: r.Expr, Labels: r.Labels})
			case r.Alert != "" && r.Labels[MonitorLabel] != "":
				alerts = append(alerts, &monitor.AlertRule{Alert: r.Alert, Expr: r.Expr, For: r.For, Labels: r.Labels, Annotations: r.Annotations})
			}
		}
		if len(alerts) == 0 {
			out.foreign = append(out.foreign, n)
			continue
		}
		for j, a := range alerts {
			if j == 0 {
				a.Records = records
			}
			id++
			name := a.Labels[MonitorLabel]
			if a.Labels[SeverityLabel] == SeverityWarning {
				name += WarningSuffix
			}
			out.monitors = append(out.monitors, monitor.Monitor{ID: id, Definition: monitor.Definition{Name: name, Rule: a}})
		}
	}
	return out, nil
}

// encodeRules writes the rules file of monitors, one group per
// esm_monitor label in name order, followed by the foreign groups.
func encodeRules(monitors []monitor.Monitor, foreign []*yaml.Node) ([]byte, error) {
	groups, err := ruleGroups(monitors, foreign)
	if err != nil {
		return nil, err
	}
	return encodeYAML(struct {
		Groups []any `yaml:"groups"`
	}{groups})
}

// encodePrometheusRule writes the same groups as a PrometheusRule object
// named esm-<env> (its metadata kept when the file has one).
func encodePrometheusRule(env string, metadata *yaml.Node, monitors []monitor.Monitor, foreign []*yaml.Node) ([]byte, error) {
	groups, err := ruleGroups(monitors, foreign)
	if err != nil {
		return nil, err
	}
	var meta any = map[string]any{
		"name":   "esm-" + env,
		"labels": map[string]string{"app.kubernetes.io/managed-by": "esm"},
	}
	if metadata != nil {
		meta = metadata
	}
	return encodeYAML(struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   any    `yaml:"metadata"`
		Spec       struct {
			Groups []any `yaml:"groups"`
		} `yaml:"spec"`
	}{APIVersion: "monitoring.coreos.com/v1", Kind: "PrometheusRule", Metadata: meta, Spec: struct {
		Groups []any `yaml:"groups"`
	}{groups}})
}

// encodeYAML writes doc after the file header, indented by two.
func encodeYAML(doc any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(fileHeader)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ruleGroups returns the groups of monitors, one per esm_monitor label in
// name order, followed by the foreign groups.
func ruleGroups(monitors []monitor.Monitor, foreign []*yaml.Node) ([]any, error) {
	byGroup := map[string][]*monitor.AlertRule{}
	for i := range monitors {
		r := monitors[i].Rule
		if r == nil {
			return nil, fmt.Errorf("monitor %q has no alerting rule: the Prometheus store keeps only rules", monitors[i].Name)
		}
		g := r.Labels[MonitorLabel]
		byGroup[g] = append(byGroup[g], r)
	}
	names := make([]string, 0, len(byGroup))
	for g := range byGroup {
		names = append(names, g)
	}
	sort.Strings(names)
	groups := []any{}
	for _, name := range names {
		rs := byGroup[name]
		// Critical first: it carries the recording rules.
		sort.SliceStable(rs, func(i, j int) bool {
			return rs[i].Labels[SeverityLabel] != SeverityWarning && rs[j].Labels[SeverityLabel] == SeverityWarning
		})
		g := ruleGroup{Name: name}
		seen := map[string]bool{}
		for _, r := range rs {
			for _, rec := range r.Records {
				if !seen[rec.Record] {
					seen[rec.Record] = true
					g.Rules = append(g.Rules, rule{Record: rec.Record, Expr: rec.Expr, Labels: rec.Labels})
				}
			}
		}
		for _, r := range rs {
			g.Rules = append(g.Rules, rule{Alert: r.Alert, Expr: r.Expr, For: r.For, Labels: r.Labels, Annotations: r.Annotations})
		}
		groups = append(groups, g)
	}
	for _, n := range foreign {
		groups = append(groups, n)
	}
	return groups, nil
}
