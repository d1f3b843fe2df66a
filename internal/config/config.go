// Package config loads esm's settings: an optional esm.yaml with per-kind
// default parameters and per-environment settings, then environment
// variables. Loading follows Prometheus and Alertmanager: strict decoding
// (an unknown key is an error), defaults, then a validation that reports
// every problem at once.
//
// The settings of "esm serve" (ServeSettings, ReadServe) follow one rule:
// a flag given on the command line wins over its environment variable,
// which wins over the default; a variable set to the empty string counts
// as not set. Secrets come from the environment only and are never
// printed.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/yamlerr"
)

// DefaultFile is the configuration file read when none is named.
const DefaultFile = "esm.yaml"

// DefaultMetric is the counter the collector emits and monitors query.
const DefaultMetric = "esm.events.received"

// DefaultRejectedMetric is the counter of the events the collector
// rejects (metrics.StatsdRejected), which bad data monitors query.
const DefaultRejectedMetric = "esm.events.rejected"

// Config is esm's configuration.
type Config struct {
	// Defaults are per-kind default parameters, keyed by annotation name.
	Defaults map[string]Params `yaml:"defaults"`
	// Environments are the environments monitors are managed in.
	Environments map[string]*Environment `yaml:"environments"`
	// Declared are the monitor kinds the file declares (kinds:).
	Declared DeclaredKinds `yaml:"kinds"`
	// RequireAlertChannel makes a monitor without @alert_channel at any
	// layer an error instead of a warning.
	RequireAlertChannel bool `yaml:"require_alert_channel"`
	// QuerySettings are the databases and limits of query monitors.
	QuerySettings `yaml:",inline"`

	// File is the file the configuration was read from ("" for built-in).
	File string `yaml:"-"`

	root  *yaml.Node                           // the document, for the positions of values
	kinds map[string]*annotations.TemplateKind // the declared kinds, checked
	// badKinds are the declared kinds with problems, reported.
	badKinds map[string]bool
}

// Environment holds one environment's settings.
type Environment struct {
	// Metric is the counter the monitors query (default esm.events.received).
	Metric string `yaml:"metric"`
	// RejectedMetric is the counter of rejected events the bad data
	// monitors query (default esm.events.rejected).
	RejectedMetric string `yaml:"rejected_metric"`
	// EnvTag is the value of the env tag in queries (default: the name).
	EnvTag string `yaml:"env_tag"`
	// Tags are added to every monitor of the environment.
	Tags []string `yaml:"tags"`
	// MessageFooter is appended to every monitor message.
	MessageFooter string `yaml:"message_footer"`
	// MaxDeletes is the mass-delete guard: an apply that deletes more
	// monitors needs --allow-mass-delete (default 10).
	MaxDeletes int `yaml:"max_deletes"`
	// Defaults are per-kind parameters for this environment; they override
	// the file's defaults.
	Defaults map[string]Params `yaml:"defaults"`

	name string
}

// Params are a kind's parameters as written in YAML, with their position
// and the positions of their values.
type Params struct {
	Value map[string]any
	Line  int
	Col   int
	// ValuePos holds the line and column of each parameter's value, and of
	// each item of an array value ("tags.1").
	ValuePos map[string][2]int

	// problems are values JSON cannot carry (.inf, .nan), by parameter.
	problems map[string]string
}

// jsonNumberRE is the syntax of a JSON number.
var jsonNumberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// UnmarshalYAML keeps the node's position and those of the values. Plain
// numbers are kept as written (json.Number), so that one too large for
// its parameter is reported as out of range, not as a string; values JSON
// cannot carry (.inf, .nan, a mapping with keys that are not strings) are
// problems of their own.
func (p *Params) UnmarshalYAML(n *yaml.Node) error {
	p.Line, p.Col = n.Line, n.Column
	if err := n.Decode(&p.Value); err != nil {
		return err
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	p.ValuePos = make(map[string][2]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		p.ValuePos[key] = [2]int{val.Line, val.Column}
		if val.Kind == yaml.SequenceNode {
			for j, it := range val.Content {
				p.ValuePos[key+"."+strconv.Itoa(j)] = [2]int{it.Line, it.Column}
			}
		}
		// A plain number keeps its spelling: 1e400, too large for yaml.v3,
		// would otherwise be a string, and 99999999999999999999 a rounded
		// float.
		if val.Kind == yaml.ScalarNode && val.Style == 0 && jsonNumberRE.MatchString(val.Value) {
			p.Value[key] = json.Number(val.Value)
			continue
		}
		if _, err := json.Marshal(p.Value[key]); err != nil {
			// .inf, .nan or a mapping with keys that are not strings:
			// reported, never passed on.
			if p.problems == nil {
				p.problems = map[string]string{}
			}
			switch {
			case val.Kind == yaml.ScalarNode:
				p.problems[key] = fmt.Sprintf("%s: %s is not a finite number", key, val.Value)
			case finite(p.Value[key]):
				p.problems[key] = fmt.Sprintf("%s: holds a mapping whose keys are not all strings", key)
			default:
				p.problems[key] = fmt.Sprintf("%s: holds .inf or .nan, which is not a finite number", key)
			}
			delete(p.Value, key)
		}
	}
	return nil
}

// finite reports whether v, a decoded YAML value, holds no infinity or
// NaN (.inf, .nan), which JSON cannot carry.
func finite(v any) bool {
	switch v := v.(type) {
	case float64:
		return !math.IsInf(v, 0) && !math.IsNaN(v)
	case []any:
		for _, it := range v {
			if !finite(it) {
				return false
			}
		}
	case map[string]any:
		for _, it := range v {
			if !finite(it) {
				return false
			}
		}
	}
	return true
}

// Layer returns the parameters as an annotations layer.
func (p Params) Layer(source, file string) annotations.Layer {
	// UnmarshalYAML keeps only values JSON holds.
	b, err := json.Marshal(p.Value)
	if err != nil {
		b = []byte("{}")
	}
	l := annotations.Layer{Source: source, Params: b, Pos: annotations.Position{File: file, Line: p.Line, Column: p.Col}}
	if len(p.ValuePos) > 0 {
		l.ParamPos = make(map[string]annotations.Position, len(p.ValuePos))
		for k, lc := range p.ValuePos {
			l.ParamPos[k] = annotations.Position{File: file, Line: lc[0], Column: lc[1]}
		}
	}
	return l
}

// Name returns the environment's name.
func (e *Environment) Name() string { return e.name }

// Default returns the built-in configuration: the environments prod and
// staging with default settings, and no default overrides.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

// Load reads path. An empty path reads esm.yaml when it exists and uses
// the built-in configuration otherwise; a named file must exist. The
// error lists every problem, one per line, as file:line:col: message.
func Load(path string) (*Config, error) {
	if path == "" {
		if _, err := os.Stat(DefaultFile); err != nil {
			return Default(), nil
		}
		path = DefaultFile
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, b)
}

// Parse decodes a configuration strictly, applies defaults and validates.
func Parse(file string, b []byte) (*Config, error) {
	c := &Config{File: file}
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	if err := d.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(file, b, err)
	}
	c.File = file
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err == nil {
		c.root = &root
	}
	c.applyDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

var (
	yamlLineRE    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	yamlUnknownRE = regexp.MustCompile(`^field (\S+) not found in type .*$`)
)

// yamlError renders yaml.v3's errors as file:line: message, one per line;
// a syntax error at the line where the document stops being valid YAML.
func yamlError(file string, src []byte, err error) error {
	if s, ok := yamlerr.Locate(src, err); ok {
		return fmt.Errorf("%s:%d: %s", file, s.Line, s.Msg)
	}
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		m = strings.TrimSpace(m)
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			msg := sm[2]
			if um := yamlUnknownRE.FindStringSubmatch(msg); um != nil {
				msg = fmt.Sprintf("unknown key %q", um[1])
			}
			errs = append(errs, fmt.Errorf("%s:%s: %s", file, sm[1], msg))
			continue
		}
		errs = append(errs, fmt.Errorf("%s: %s", file, strings.TrimPrefix(m, "yaml: ")))
	}
	return errors.Join(errs...)
}

func (c *Config) applyDefaults() {
	if len(c.Environments) == 0 {
		c.Environments = map[string]*Environment{"prod": {}, "staging": {}}
	}
	for name, e := range c.Environments {
		if e == nil {
			e = &Environment{}
			c.Environments[name] = e
		}
		e.name = name
		if e.Metric == "" {
			e.Metric = DefaultMetric
		}
		if e.RejectedMetric == "" {
			e.RejectedMetric = DefaultRejectedMetric
		}
		if e.EnvTag == "" {
			e.EnvTag = name
		}
		if e.MaxDeletes == 0 {
			e.MaxDeletes = 10
		}
	}
}

var envNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// node returns the key and value nodes at path (mapping keys from the
// document's top), or nils when the file does not hold it.
func (c *Config) node(path ...string) (key, val *yaml.Node) {
	if c.root == nil || len(c.root.Content) == 0 {
		return nil, nil
	}
	val = c.root.Content[0]
	for _, p := range path {
		if val.Kind != yaml.MappingNode {
			return nil, nil
		}
		found := false
		for i := 0; i+1 < len(val.Content); i += 2 {
			if val.Content[i].Value == p {
				key, val, found = val.Content[i], val.Content[i+1], true
			}
		}
		if !found {
			return nil, nil
		}
	}
	return key, val
}

// at renders the position of a node as file:line:col, or the file alone.
func (c *Config) at(n *yaml.Node) string {
	if n != nil && n.Line > 0 {
		return fmt.Sprintf("%s:%d:%d", c.File, n.Line, n.Column)
	}
	return c.File
}

// problem is one validation error with its position, for sorting.
type problem struct {
	line, col int
	err       error
}

// validate returns every problem of the configuration, in the order of
// their positions in the file.
func (c *Config) validate() error {
	var probs []problem
	add := func(n *yaml.Node, format string, args ...any) {
		var line, col int
		if n != nil {
			line, col = n.Line, n.Column
		}
		probs = append(probs, problem{line, col, fmt.Errorf("%s: "+format, append([]any{c.at(n)}, args...)...)})
	}
	addErr := func(err error) {
		pr := problem{err: err}
		var ae *annotations.Error
		if errors.As(err, &ae) {
			pr.line, pr.col = ae.Pos.Line, ae.Pos.Column
		}
		probs = append(probs, pr)
	}
	// The declared kinds first: defaults may be given for them.
	c.declareKinds(add, addErr)
	checkDefaults := func(defs map[string]Params, source string) {
		for _, kind := range sortedKeys(defs) {
			p := defs[kind]
			k, ok := c.Kind(kind)
			if c.badKinds[kind] {
				continue // its declaration's problems are reported
			}
			if !ok {
				add(&yaml.Node{Line: p.Line, Column: p.Col}, "%s: unknown monitor kind %q; known kinds: %s", source, kind, strings.Join(c.kindNames(), ", "))
				continue
			}
			for _, param := range sortedKeys(p.problems) {
				lc := p.ValuePos[param]
				add(&yaml.Node{Line: lc[0], Column: lc[1]}, "%s: %s", source, p.problems[param])
			}
			for _, err := range unjoin(k.Check(p.Layer(source, c.File))) {
				addErr(err)
			}
		}
	}
	checkDefaults(c.Defaults, "defaults")
	for _, name := range sortedKeys(c.Environments) {
		e := c.Environments[name]
		key, _ := c.node("environments", name)
		// The identity tag esm-<name> must be stored as written, or two
		// names would share it.
		if !envNameRE.MatchString(name) || monitorEnvTag(name) != "esm-"+name {
			add(key, "environment name %q must be lowercase letters, digits, - or _, starting with a letter, without __ or a trailing _", name)
		}
		field := func(f string) *yaml.Node { _, v := c.node("environments", name, f); return v }
		if err := annotations.CheckMetricName(e.Metric); err != nil {
			add(field("metric"), "environments.%s.metric %q is not a valid Datadog metric name: %v", name, e.Metric, err)
		}
		if err := annotations.CheckMetricName(e.RejectedMetric); err != nil {
			add(field("rejected_metric"), "environments.%s.rejected_metric %q is not a valid Datadog metric name: %v", name, e.RejectedMetric, err)
		}
		if err := annotations.CheckTag("env:" + e.EnvTag); err != nil {
			add(field("env_tag"), "environments.%s.env_tag %q cannot be the value of env: in a query: %v", name, e.EnvTag, err)
		}
		if e.MaxDeletes < 0 {
			add(field("max_deletes"), "environments.%s.max_deletes must not be negative", name)
		}
		tagNodes := field("tags")
		for i, t := range e.Tags {
			at := tagNodes
			if tagNodes != nil && tagNodes.Kind == yaml.SequenceNode && i < len(tagNodes.Content) {
				at = tagNodes.Content[i]
			}
			if err := annotations.CheckTag(t); err != nil {
				add(at, "environments.%s.tags: %q is not a valid Datadog tag: %v", name, t, err)
			} else if annotations.IsReservedTag(t) {
				add(at, "environments.%s.tags: %q is reserved: %s", name, t, annotations.ReservedTagsHint)
			}
		}
		checkDefaults(e.Defaults, "environments."+name+".defaults")
	}
	sort.SliceStable(probs, func(i, j int) bool {
		a, b := probs[i], probs[j]
		return a.line < b.line || a.line == b.line && a.col < b.col
	})
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = p.err
	}
	// The databases and queries sections report their own problems, each
	// with its position.
	errs = append(errs, c.resolveQuerySettings(c.File)...)
	return errors.Join(errs...)
}

// unjoin returns the errors an errors.Join holds, or err alone.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// monitorEnvTag is the identity tag of an environment as Datadog stores
// it (monitor.EnvTag, which config does not import).
func monitorEnvTag(name string) string { return annotations.DatadogTag("esm-" + name) }

// Env returns the settings of an environment, or an error naming the
// configured ones.
func (c *Config) Env(name string) (*Environment, error) {
	if e, ok := c.Environments[name]; ok {
		return e, nil
	}
	return nil, fmt.Errorf("unknown environment %q: configured environments are %s", name, strings.Join(c.EnvNames(), ", "))
}

// HasEnv reports whether name is a configured environment.
func (c *Config) HasEnv(name string) bool { _, ok := c.Environments[name]; return ok }

// EnvNames returns the configured environments, sorted.
func (c *Config) EnvNames() []string { return sortedKeys(c.Environments) }

// MaxDeletes returns the mass-delete guard of an environment.
func (c *Config) MaxDeletes(env string) int {
	if e, ok := c.Environments[env]; ok {
		return e.MaxDeletes
	}
	return 10
}

// Layers returns the configured parameter layers of a kind for an
// environment, lowest precedence first: the file's defaults, then the
// environment's.
func (c *Config) Layers(kind, env string) []annotations.Layer {
	var out []annotations.Layer
	if p, ok := c.Defaults[kind]; ok {
		out = append(out, p.Layer(c.File+" defaults", c.File))
	}
	if e, ok := c.Environments[env]; ok {
		if p, ok := e.Defaults[kind]; ok {
			out = append(out, p.Layer(c.File+" environment "+env, c.File))
		}
	}
	return out
}

// Annotations returns the environment's settings as annotations see them.
func (e *Environment) Annotations() annotations.Environment {
	return annotations.Environment{Name: e.name, Metric: e.Metric, RejectedMetric: e.RejectedMetric, EnvTag: e.EnvTag, Tags: e.Tags, MessageFooter: e.MessageFooter}
}

func (c *Config) kindNames() []string {
	var names []string
	for _, k := range c.Kinds() {
		names = append(names, k.Annotation())
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
