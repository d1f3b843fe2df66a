// Package reconcile runs esm's use case: from schema files to the monitors
// their annotations ask for, to the plan against a store, to its
// application. The CLI and the GitHub bot both go through Run; it talks to
// stores through internal/monitor's small interfaces, to GitHub through
// internal/forge's, and renders specs through the Renderer it is given.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/idl"
	"github.com/esm-dev/esm/internal/monitor"
)

// LoadConfig reads esm.yaml (path "" reads ./esm.yaml when it exists and
// uses the built-in defaults otherwise). The error lists every problem.
func LoadConfig(path string) (*config.Config, error) {
	return config.Load(path)
}

// Specs parses every .avdl, .avsc and .avpr file under paths, with opts
// (such as the import search paths of -I), and returns what their
// annotations ask for in env, sorted by monitor name. diags holds every
// problem as file:line:col: message; when it has errors the monitors must
// not be applied. err is for paths that cannot be read and unknown
// environments.
func Specs(ctx context.Context, cfg *config.Config, env string, paths []string, opts idl.Options) ([]annotations.Spec, diag.List, error) {
	if _, err := cfg.Env(env); err != nil {
		return nil, nil, err
	}
	tree, err := idl.LoadTree(paths, opts)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	specs, diags := specsFromTypes(cfg, env, tree.Types, repoRelative(paths))
	all := append(append(diag.List{}, tree.Diags...), diags...)
	all.Sort()
	return specs, all, nil
}

// SpecsFromTypes returns what the annotations of the given named types
// ask for in env, sorted by monitor name, and every problem with them.
func SpecsFromTypes(cfg *config.Config, env string, types []*idl.Schema) ([]annotations.Spec, diag.List) {
	return specsFromTypes(cfg, env, types, func(p string) string { return p })
}

// repoRelative returns a function that names a schema file relative to
// the root of the repository holding paths (the nearest directory with a
// .git above the first path; outside a repository, the nearest one with
// an esm.yaml), or to the working directory outside both, in slash form.
// Monitors then name their schema file as the GitHub bot does
// ("schemas/cart.avdl"), wherever esm plan runs from, so the CLI and the
// bot never fight over a monitor's message or tags.
func repoRelative(paths []string) func(string) string {
	root, _ := os.Getwd()
	if len(paths) > 0 {
		if dir, err := filepath.Abs(paths[0]); err == nil {
		marks:
			for _, mark := range []string{".git", config.DefaultFile} {
				for d := dir; ; d = filepath.Dir(d) {
					if _, err := os.Stat(filepath.Join(d, mark)); err == nil {
						root = d
						break marks
					}
					if filepath.Dir(d) == d {
						break
					}
				}
			}
		}
	}
	return func(p string) string {
		abs, err := filepath.Abs(p)
		if err != nil || root == "" {
			return p
		}
		rel, err := filepath.Rel(root, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return p
		}
		return filepath.ToSlash(rel)
	}
}

func specsFromTypes(cfg *config.Config, env string, types []*idl.Schema, file func(string) string) ([]annotations.Spec, diag.List) {
	var diags diag.List
	e, err := cfg.Env(env)
	if err != nil {
		diags.Add(diag.Error, diag.Position{}, diag.Position{}, "%v", err)
		return nil, diags
	}
	var out []annotations.Spec
	byName := map[string]annotations.Spec{}
	for _, s := range types {
		for _, d := range monitorsOf(s, cfg, e, file(s.Filename()), &diags) {
			if prev, dup := byName[d.Name]; dup {
				// The file as read, as every other diagnostic names it.
				pos := diag.Position{Filename: s.Filename(), Line: d.Pos.Line, Column: d.Pos.Column}
				diags.Add(diag.Error, pos, pos, "monitor %q of %s has the same name as the monitor of %s (%s:%d); records with one simple name in two namespaces cannot both have it",
					d.Name, d.Target.FullName, prev.Target.FullName, prev.Target.File, prev.Target.Line)
				continue
			}
			out = append(out, d)
			byName[d.Name] = d
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	diags.Sort()
	return out, uniqueDiags(diags)
}

// uniqueDiags drops repeats from a sorted list: a protocol's annotation is
// a layer of each of its records' monitors, and its problems are reported
// once.
func uniqueDiags(l diag.List) diag.List {
	out := l[:0]
	for i, d := range l {
		if i > 0 && sameDiag(d, l[i-1]) {
			continue
		}
		out = append(out, d)
	}
	return out
}

func sameDiag(a, b *diag.Diagnostic) bool {
	return a.Severity == b.Severity && a.Pos == b.Pos && a.End == b.End && a.Message == b.Message && slices.Equal(a.Related, b.Related)
}

func position(r diag.Range) annotations.Position {
	p := r.Pos()
	return annotations.Position{File: p.Filename, Line: p.Line, Column: p.Column}
}

func diagPos(p annotations.Position) diag.Position {
	return diag.Position{Filename: p.File, Line: p.Line, Column: p.Column}
}

// addErr records an error from the annotations package, keeping its
// position.
func addErr(diags *diag.List, err error, fallback annotations.Position) {
	for _, e := range flatten(err) {
		if ae, ok := e.(*annotations.Error); ok {
			diags.Add(diag.Error, diagPos(ae.Pos), diagPos(ae.Pos), "%s", ae.Msg)
			for _, r := range ae.Related {
				(*diags)[len(*diags)-1].Related = append((*diags)[len(*diags)-1].Related, diagPos(r))
			}
			continue
		}
		diags.Add(diag.Error, diagPos(fallback), diagPos(fallback), "%v", e)
	}
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// isMonitorName reports whether an annotation name looks like esm's: a
// kind (built-in or declared in esm.yaml), alert_channel, or any *_monitor
// (a misspelt kind).
func isMonitorName(cfg *config.Config, name string) bool {
	return cfg.IsMonitorAnnotation(name) || strings.HasSuffix(name, "_monitor")
}

func kindList(cfg *config.Config) string {
	var names []string
	for _, k := range cfg.Kinds() {
		names = append(names, "@"+k.Annotation())
	}
	return strings.Join(names, ", ")
}

// monitorsOf returns the monitors a named type's annotations ask for.
// file is the schema file as monitors name it.
func monitorsOf(s *idl.Schema, cfg *config.Config, e *config.Environment, file string, diags *diag.List) []annotations.Spec {
	if s.Kind != idl.Record {
		for _, p := range s.Props {
			if isMonitorName(cfg, p.Name) {
				pos := p.Range.Pos()
				diags.Add(diag.Error, pos, pos, "@%s belongs on a record; %s is %s %s", p.Name, s.Name, article(s.Kind.String()), s.Kind)
			}
		}
		return nil
	}
	for _, f := range s.Fields {
		props := f.Props
		t := f.Type
		if t.Kind == idl.Union && len(t.Types) == 2 {
			t = t.Types[0]
			if t.Kind == idl.Null {
				t = f.Type.Types[1]
			}
		}
		if !t.Kind.IsNamed() {
			props = append(append([]idl.Prop{}, props...), t.Props...)
		}
		for _, p := range props {
			if isMonitorName(cfg, p.Name) {
				pos := p.Range.Pos()
				diags.Add(diag.Error, pos, pos, "@%s belongs on the record %s, not on its field %s", p.Name, s.Name, f.Name)
			}
		}
	}
	var protoProps []idl.Prop
	protoName := ""
	if s.Protocol != nil {
		protoProps, protoName = s.Protocol.Props, s.Protocol.Name
	}
	warnRepeated(cfg, s.Props, s.Name, diags)

	// Channels: the record's @alert_channel, else the protocol's.
	var channels annotations.Channels
	for _, props := range [][]idl.Prop{protoProps, s.Props} {
		for _, p := range props {
			if p.Name != annotations.ChannelAnnotation {
				continue
			}
			raw, _ := p.Value.MarshalJSON()
			c, err := annotations.ParseChannels(raw, position(p.Range))
			if err != nil {
				addErr(diags, err, position(p.Range))
				continue
			}
			channels = c
		}
	}

	// A misspelt annotation on the protocol would silently set nothing.
	for _, p := range protoProps {
		if _, ok := cfg.Kind(p.Name); ok || p.Name == annotations.ChannelAnnotation {
			continue
		}
		if best, near := annotations.Suggest(p.Name, esmNames(cfg)); near {
			pos := p.Range.Pos()
			diags.Add(diag.Error, pos, pos, "unknown annotation @%s on protocol %s: did you mean @%s?", p.Name, protoName, best)
		}
	}

	var out []annotations.Spec
	for _, p := range s.Props {
		if p.Name == annotations.ChannelAnnotation {
			continue
		}
		kind, ok := cfg.Kind(p.Name)
		if !ok {
			pos := p.Range.Pos()
			if best, near := annotations.Suggest(p.Name, esmNames(cfg)); near {
				diags.Add(diag.Error, pos, pos, "unknown annotation @%s: did you mean @%s?", p.Name, best)
			} else if strings.HasSuffix(p.Name, "_monitor") {
				diags.Add(diag.Error, pos, pos, "unknown monitor annotation @%s; known: %s", p.Name, kindList(cfg))
			}
			continue
		}
		layers := cfg.Layers(p.Name, e.Name())
		for _, pp := range protoProps {
			if pp.Name == p.Name {
				layers = append(layers, annotationLayer(fmt.Sprintf("@%s on protocol %s", pp.Name, protoName), pp, diags))
			}
		}
		pos := position(p.Range)
		layers = append(layers, annotationLayer("@"+p.Name, p, diags))
		t := annotations.Target{
			Record: s.Name, FullName: s.FullName(), Doc: s.Doc, File: file, Line: pos.Line,
			Env: e.Annotations(), Channels: channels,
		}
		spec, err := kind.Spec(t, layers)
		if err != nil {
			addErr(diags, err, pos)
			continue
		}
		// The position as monitors name it: the file relative to the
		// repository, as the bot reads it.
		spec.Pos = annotations.Position{File: file, Line: pos.Line, Column: pos.Column}
		out = append(out, spec)
	}
	warnChannels(cfg, s, channels, out, diags)
	return out
}

// warnChannels reports a record whose monitors notify no one (no
// @alert_channel on it or its protocol): a warning, or an error when
// esm.yaml sets require_alert_channel; and an @alert_channel on a record
// that asks for no monitor, which has no effect.
func warnChannels(cfg *config.Config, s *idl.Schema, channels annotations.Channels, specs []annotations.Spec, diags *diag.List) {
	if len(specs) > 0 && channels.IsZero() {
		at := diag.Position{Filename: s.Filename(), Line: specs[0].Pos.Line, Column: specs[0].Pos.Column}
		if cfg.RequireAlertChannel {
			diags.Add(diag.Error, at, at, "the monitors of %s notify no one: add @alert_channel to the record or its protocol (esm.yaml sets require_alert_channel)", s.Name)
		} else {
			diags.Add(diag.Warning, at, at, "the monitors of %s notify no one: add @alert_channel to the record or its protocol", s.Name)
		}
	}
	asks := false
	for _, p := range s.Props {
		if _, ok := cfg.Kind(p.Name); ok {
			asks = true
		}
	}
	if !asks {
		for _, p := range s.Props {
			if p.Name == annotations.ChannelAnnotation {
				at := p.Range.Pos()
				diags.Add(diag.Warning, at, at, "@alert_channel on %s has no effect: the record asks for no monitor", s.Name)
			}
		}
	}
}

// esmNames are the annotation names esm reads: every kind and
// alert_channel.
func esmNames(cfg *config.Config) []string {
	names := []string{annotations.ChannelAnnotation}
	for _, k := range cfg.Kinds() {
		names = append(names, k.Annotation())
	}
	return names
}

// Source returns where the monitor of spec comes from.
func Source(spec *annotations.Spec) monitor.Source {
	return monitor.Source{Record: spec.Target.FullName, File: spec.Target.File, Line: spec.Pos.Line, Column: spec.Pos.Column, Kind: spec.Kind}
}

// Renderer renders a spec into the resource of a backend
// (datadog.Render).
type Renderer func(annotations.Spec) (monitor.Definition, error)

// Render renders specs into the monitors of env with render, each with
// esm's identity tags: the environment's (esm-<env>) and its source's
// (record and file). A spec the backend cannot render is an error naming
// the annotation.
func Render(env string, specs []annotations.Spec, render Renderer) ([]monitor.Desired, error) {
	out := make([]monitor.Desired, 0, len(specs))
	var errs []error
	for i := range specs {
		m, err := render(specs[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", specs[i].Pos, err))
			continue
		}
		src := Source(&specs[i])
		m.Tags = annotations.NormalizeTags(append(append(m.Tags, monitor.EnvTag(env)), monitor.SourceTags(src)...))
		out = append(out, monitor.Desired{Definition: m, Source: src})
	}
	return out, errors.Join(errs...)
}

// warnRepeated warns of an esm annotation given twice on one declaration:
// the parser keeps the last value, as Avro's reference does, and the
// earlier one is silently dropped from the schema.
func warnRepeated(cfg *config.Config, props []idl.Prop, decl string, diags *diag.List) {
	for _, p := range props {
		if !p.Overrides.Pos().IsValid() {
			continue
		}
		if !cfg.IsMonitorAnnotation(p.Name) {
			continue
		}
		pos := p.Range.Pos()
		diags.Add(diag.Warning, pos, pos, "@%s is given twice on %s: this one wins, the one at %s is ignored", p.Name, decl, p.Overrides.Pos())
	}
}

// annotationLayer returns an annotation's parameters as a layer, with the
// positions of their values. A number JSON cannot carry — one too large
// for a float, such as 1e400, which the parser reads as infinity, or NaN —
// is reported at its value as out of range and left out of the layer.
func annotationLayer(source string, p idl.Prop, diags *diag.List) annotations.Layer {
	l := annotations.Layer{Source: source, Pos: position(p.Range)}
	v := p.Value
	if v != nil && v.Kind == idl.ObjectValue {
		kept := *v
		kept.Keys, kept.Items = nil, nil
		l.ParamPos = make(map[string]annotations.Position, len(v.Keys))
		for i, k := range v.Keys {
			item := v.Items[i]
			l.ParamPos[k] = position(item.Range)
			if item.Kind == idl.ArrayValue {
				for j, it := range item.Items {
					l.ParamPos[k+"."+strconv.Itoa(j)] = position(it.Range)
				}
			}
			if item.Kind == idl.FloatValue && (math.IsInf(item.Float, 0) || math.IsNaN(item.Float)) {
				what := "the number is out of range"
				if math.IsNaN(item.Float) {
					what = "NaN is not a number"
				}
				at := item.Range.Pos()
				diags.Add(diag.Error, at, at, "%s: %s: %s", source, k, what)
				continue
			}
			kept.Keys, kept.Items = append(kept.Keys, k), append(kept.Items, item)
		}
		v = &kept
	}
	if v != nil {
		l.Params, _ = v.MarshalJSON()
	}
	return l
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
