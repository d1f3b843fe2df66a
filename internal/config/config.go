// Package config loads esm's settings: an optional esm.yaml with per-kind
// default parameters and per-environment settings, then environment
// variables. Loading follows Prometheus and Alertmanager: strict decoding
// (an unknown key is an error), defaults, then a validation that reports
// every problem at once.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/esm-dev/esm/annotations"
)

// DefaultFile is the configuration file read when none is named.
const DefaultFile = "esm.yaml"

// DefaultMetric is the counter the collector emits and monitors query.
const DefaultMetric = "esm.events.received"

// Config is esm's configuration.
type Config struct {
	// Defaults are per-kind default parameters, keyed by annotation name.
	Defaults map[string]Params `yaml:"defaults"`
	// Environments are the environments monitors are managed in.
	Environments map[string]*Environment `yaml:"environments"`
	// QuerySettings are the databases and limits of query monitors.
	QuerySettings `yaml:",inline"`

	// File is the file the configuration was read from ("" for built-in).
	File string `yaml:"-"`
}

// Environment holds one environment's settings.
type Environment struct {
	// Metric is the counter the monitors query (default esm.events.received).
	Metric string `yaml:"metric"`
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

// Params are a kind's parameters as written in YAML, with their position.
type Params struct {
	Value map[string]any
	Line  int
	Col   int
}

// UnmarshalYAML keeps the node's position.
func (p *Params) UnmarshalYAML(n *yaml.Node) error {
	p.Line, p.Col = n.Line, n.Column
	return n.Decode(&p.Value)
}

// Layer returns the parameters as an annotations layer.
func (p Params) Layer(source, file string) annotations.Layer {
	b, _ := json.Marshal(p.Value)
	return annotations.Layer{Source: source, Params: b, Pos: annotations.Position{File: file, Line: p.Line, Column: p.Col}}
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
		return nil, yamlError(file, err)
	}
	c.File = file
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

// yamlError renders yaml.v3's errors as file:line: message, one per line.
func yamlError(file string, err error) error {
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
		if e.EnvTag == "" {
			e.EnvTag = name
		}
		if e.MaxDeletes == 0 {
			e.MaxDeletes = 10
		}
	}
}

var (
	envNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	metricRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.]*$`)
)

func (c *Config) validate() error {
	var errs []error
	at := func(line, col int) string {
		if line > 0 {
			return fmt.Sprintf("%s:%d:%d", c.File, line, col)
		}
		return c.File
	}
	checkDefaults := func(defs map[string]Params, source string) {
		for _, kind := range sortedKeys(defs) {
			p := defs[kind]
			k, ok := annotations.Lookup(kind)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: %s: unknown monitor kind %q; known kinds: %s", at(p.Line, p.Col), source, kind, strings.Join(kindNames(), ", ")))
				continue
			}
			if err := k.Check(p.Layer(source, c.File)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	checkDefaults(c.Defaults, "defaults")
	for _, name := range sortedKeys(c.Environments) {
		e := c.Environments[name]
		if !envNameRE.MatchString(name) {
			errs = append(errs, fmt.Errorf("%s: environment name %q must be lowercase letters, digits, - or _", c.File, name))
		}
		if !metricRE.MatchString(e.Metric) {
			errs = append(errs, fmt.Errorf("%s: environments.%s.metric %q is not a valid metric name", c.File, name, e.Metric))
		}
		if e.MaxDeletes < 0 {
			errs = append(errs, fmt.Errorf("%s: environments.%s.max_deletes must not be negative", c.File, name))
		}
		for _, t := range e.Tags {
			if strings.HasPrefix(strings.ToLower(t), "esm-") || strings.HasPrefix(strings.ToLower(t), "esm_") {
				errs = append(errs, fmt.Errorf("%s: environments.%s.tags: %q uses esm's reserved tag prefix", c.File, name, t))
			}
		}
		checkDefaults(e.Defaults, "environments."+name+".defaults")
	}
	errs = append(errs, c.resolveQuerySettings(c.File)...)
	return errors.Join(errs...)
}

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
	return annotations.Environment{Name: e.name, Metric: e.Metric, EnvTag: e.EnvTag, Tags: e.Tags, MessageFooter: e.MessageFooter}
}

func kindNames() []string {
	var names []string
	for _, k := range annotations.Kinds() {
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
