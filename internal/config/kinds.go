package config

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/esm-dev/esm/annotations"
)

// DeclaredKinds is the kinds: section of esm.yaml, as written: the
// monitor kinds a platform team declares from a template
// (annotations.KindDecl). It keeps its node; validate checks it key by
// key, so that every problem has its position.
type DeclaredKinds struct {
	node *yaml.Node
}

// UnmarshalYAML keeps the section's node.
func (k *DeclaredKinds) UnmarshalYAML(n *yaml.Node) error {
	k.node = n
	return nil
}

// The keys of a kind declaration and of a parameter declaration.
var (
	kindKeys      = []string{"name", "type", "query", "summary", "thresholds", "params"}
	thresholdKeys = []string{"warning", "critical_recovery", "warning_recovery"}
	paramKeys     = []string{"type", "default", "min", "max", "enum", "pattern", "doc"}
)

// Kind returns the kind of an annotation name: one the file declares
// under kinds:, else a built-in one.
func (c *Config) Kind(name string) (annotations.Kind, bool) {
	if k, ok := c.kinds[name]; ok {
		return k, true
	}
	return annotations.Lookup(name)
}

// Kinds returns the built-in kinds and those the file declares, sorted by
// annotation name.
func (c *Config) Kinds() []annotations.Kind {
	out := annotations.Kinds()
	for _, k := range c.kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Annotation() < out[j].Annotation() })
	return out
}

// IsMonitorAnnotation reports whether name is a kind of the configuration
// or alert_channel: the annotation names esm reads.
func (c *Config) IsMonitorAnnotation(name string) bool {
	_, ok := c.Kind(name)
	return ok || name == annotations.ChannelAnnotation
}

// declareKinds checks the kinds: section and makes its kinds; add reports
// a problem of the YAML's shape at a node, the others come from
// annotations.NewTemplateKind, each with its position.
func (c *Config) declareKinds(add func(n *yaml.Node, format string, args ...any), addErr func(error)) {
	n := c.Declared.node
	if n == nil || n.Kind == 0 || n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		add(n, "kinds: must be a mapping of annotation names to kind declarations")
		return
	}
	c.kinds = map[string]*annotations.TemplateKind{}
	c.badKinds = map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		d, ok := c.kindDecl(key, val, add)
		if !ok {
			c.badKinds[key.Value] = true
			continue
		}
		k, err := annotations.NewTemplateKind(d)
		if err != nil {
			// Its problems are reported; its defaults are not checked.
			c.badKinds[key.Value] = true
			for _, e := range unjoin(err) {
				addErr(e)
			}
			continue
		}
		c.kinds[d.Annotation] = k
	}
}

// pos returns the position of a node in the file.
func (c *Config) pos(n *yaml.Node) annotations.Position {
	return annotations.Position{File: c.File, Line: n.Line, Column: n.Column}
}

// mapping calls fn for each key and value of a mapping node, reporting
// keys that are not in known; what names the mapping in messages. It
// reports false when n is not a mapping.
func mapping(n *yaml.Node, what string, known []string, add func(*yaml.Node, string, ...any), fn func(key, val *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		add(n, "%s must be a mapping", what)
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if known != nil && !contains(known, key.Value) {
			add(key, "unknown key %q in %s; known keys: %s", key.Value, what, strings.Join(known, ", "))
			continue
		}
		fn(key, val)
	}
	return true
}

// mappingKey returns the key node named key of a mapping node, or nil.
func mappingKey(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}

// kindDecl reads one kind declaration.
func (c *Config) kindDecl(key, val *yaml.Node, add func(*yaml.Node, string, ...any)) (annotations.KindDecl, bool) {
	d := annotations.KindDecl{Annotation: key.Value, Pos: c.pos(key)}
	where := "kinds." + key.Value
	ok := true
	text := func(k, v *yaml.Node) *annotations.DeclText {
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			add(v, "%s.%s must be a string", where, k.Value)
			ok = false
			return nil
		}
		return &annotations.DeclText{Text: v.Value, Pos: c.pos(v)}
	}
	d.Name.Pos, d.Type.Pos, d.Query.Pos = d.Pos, d.Pos, d.Pos
	ok = mapping(val, where, kindKeys, add, func(k, v *yaml.Node) {
		switch k.Value {
		case "name", "type", "query":
			t := text(k, v)
			if t == nil {
				return
			}
			switch k.Value {
			case "name":
				d.Name = *t
			case "type":
				d.Type = *t
			case "query":
				d.Query = *t
			}
		case "summary":
			d.Summary = text(k, v)
		case "thresholds":
			if crit := mappingKey(v, "critical"); crit != nil {
				add(crit, "%s.thresholds: critical is the number the query ends with (> 100); set only warning, critical_recovery or warning_recovery", where)
			}
			mapping(v, where+".thresholds", append(thresholdKeys, "critical"), add, func(tk, tv *yaml.Node) {
				t := text(tk, tv)
				switch tk.Value {
				case "warning":
					d.Warning = t
				case "critical_recovery":
					d.CriticalRecovery = t
				case "warning_recovery":
					d.WarningRecovery = t
				}
			})
		case "params":
			mapping(v, where+".params", nil, add, func(pk, pv *yaml.Node) {
				if p, pok := c.paramDecl(where+".params."+pk.Value, pk, pv, add); pok {
					d.Params = append(d.Params, p)
				} else {
					ok = false
				}
			})
		}
	}) && ok
	return d, ok
}

// paramDecl reads one parameter declaration.
func (c *Config) paramDecl(where string, key, val *yaml.Node, add func(*yaml.Node, string, ...any)) (annotations.ParamDecl, bool) {
	p := annotations.ParamDecl{Name: key.Value, Pos: c.pos(key)}
	ok := true
	value := func(v *yaml.Node, what string) *annotations.DeclValue {
		b, err := nodeJSON(v)
		if err != nil {
			add(v, "%s.%s: %v", where, what, err)
			ok = false
			return nil
		}
		return &annotations.DeclValue{JSON: b, Pos: c.pos(v)}
	}
	ok = mapping(val, where, paramKeys, add, func(k, v *yaml.Node) {
		switch k.Value {
		case "type", "pattern", "doc":
			if v.Kind != yaml.ScalarNode {
				add(v, "%s.%s must be a string", where, k.Value)
				ok = false
				return
			}
			t := annotations.DeclText{Text: v.Value, Pos: c.pos(v)}
			switch k.Value {
			case "type":
				p.Type = t
			case "pattern":
				p.Pattern = &t
			case "doc":
				p.Doc = v.Value
			}
		case "default":
			p.Default = value(v, "default")
		case "min":
			p.Min = value(v, "min")
		case "max":
			p.Max = value(v, "max")
		case "enum":
			if v.Kind != yaml.SequenceNode {
				add(v, "%s.enum must be a list", where)
				ok = false
				return
			}
			for _, it := range v.Content {
				if dv := value(it, "enum"); dv != nil {
					p.Enum = append(p.Enum, *dv)
				}
			}
		}
	}) && ok
	return p, ok
}

// nodeJSON returns a YAML value as JSON; a plain number keeps its
// spelling, so that one out of range is reported as such.
func nodeJSON(n *yaml.Node) (json.RawMessage, error) {
	if n.Kind == yaml.ScalarNode && n.Style == 0 && jsonNumberRE.MatchString(n.Value) {
		return json.RawMessage(n.Value), nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s is not a value JSON can hold (.inf, .nan or a mapping with keys that are not strings)", n.Value)
	}
	return b, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
