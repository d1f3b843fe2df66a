package queryfile

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/diag"
)

// Monitor is one entry of a query's monitors: list, such as
// threshold: {below: 1000}: the kind its key names, its parameters as an
// annotations layer (checked when the monitor is made, over esm.yaml's
// defaults) and its own alert_channel.
type Monitor struct {
	// Key is the entry's key: threshold or anomaly.
	Key string
	// Kind is the kind the key names (annotations.QueryMonitorKind).
	Kind annotations.Kind
	// Params are the entry's parameters, as JSON, with the positions of
	// their values; Params.Source is the key.
	Params annotations.Layer
	// Channels are the entry's alert_channel, which replaces the query's;
	// nil when the entry names none.
	Channels *annotations.Channels
	// Pos is where the entry's key is.
	Pos diag.Position
}

// monitors decodes a query's monitors: list; false when an entry is at
// fault.
func (p *fileParser) monitors(q *Query, v *yaml.Node) bool {
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, "monitors must be a list of monitors, not %s", kindName(v))
		return false
	}
	ok := true
	for _, e := range v.Content {
		m, good := p.monitor(e)
		if !good {
			ok = false
			continue
		}
		q.Monitors = append(q.Monitors, m)
	}
	return ok
}

// monitor decodes one entry of monitors: a mapping with one kind key and,
// optionally, alert_channel.
func (p *fileParser) monitor(e *yaml.Node) (Monitor, bool) {
	var m Monitor
	keys := annotations.QueryMonitorKeys()
	if e.Kind != yaml.MappingNode {
		p.errorf(e, "a monitor must be a mapping (such as threshold: {below: 1000}), not %s", kindName(e))
		return m, false
	}
	ok := true
	var kindKey *yaml.Node
	for i := 0; i+1 < len(e.Content); i += 2 {
		k, v := e.Content[i], e.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "a key must be a plain name, not %s", kindName(k))
			ok = false
			continue
		}
		if k.Value == annotations.ChannelAnnotation {
			if m.Channels != nil {
				p.errorf(k, "alert_channel is already set in this monitor")
				ok = false
				continue
			}
			c, good := p.channels(v)
			m.Channels, ok = c, ok && good
			continue
		}
		kind, known := annotations.QueryMonitorKind(k.Value)
		switch {
		case !known:
			if best, near := annotations.Suggest(k.Value, append(keys, annotations.ChannelAnnotation)); near {
				p.errorf(k, "unknown monitor %q: did you mean %q?", k.Value, best)
			} else {
				p.errorf(k, "unknown monitor %q; a monitor is one of %s, with an optional alert_channel", k.Value, strings.Join(keys, ", "))
			}
			ok = false
			continue
		case kindKey != nil:
			p.errorf(k, "a monitor entry holds one monitor, and %s is set at %s: start another entry with -", kindKey.Value, p.pos(kindKey))
			ok = false
			continue
		}
		kindKey = k
		l, good := p.layer(k.Value, v)
		m.Key, m.Kind, m.Params, m.Pos = k.Value, kind, l, p.pos(k)
		ok = ok && good
	}
	if kindKey == nil && ok {
		p.errorf(e, "a monitor needs one of %s, such as threshold: {below: 1000}", strings.Join(keys, ", "))
		return m, false
	}
	return m, ok
}

// channels decodes an alert_channel value: a channel, a list of channels
// or a mapping from severity to either, as @alert_channel takes.
func (p *fileParser) channels(v *yaml.Node) (*annotations.Channels, bool) {
	val, ok := p.jsonValue("alert_channel", v)
	if !ok {
		return nil, false
	}
	raw, _ := json.Marshal(val) // jsonValue returns only what JSON holds
	c, err := annotations.ParseChannels(raw, p.annotationPos(v))
	if err != nil {
		msg := err.Error()
		if ae, isAE := err.(*annotations.Error); isAE {
			msg = ae.Msg
		}
		p.errorf(v, "%s", strings.TrimPrefix(msg, "@"))
		return nil, false
	}
	return &c, true
}

// layer returns the parameters of a monitor entry as an annotations
// layer, with the positions of their values (and of the items of list
// values, "tags.1"). A null value is no parameters: the defaults.
func (p *fileParser) layer(source string, v *yaml.Node) (annotations.Layer, bool) {
	l := annotations.Layer{Source: source, Pos: p.annotationPos(v)}
	if v.Kind == yaml.MappingNode {
		l.ParamPos = make(map[string]annotations.Position, len(v.Content)/2)
		for i := 0; i+1 < len(v.Content); i += 2 {
			key, val := v.Content[i].Value, v.Content[i+1]
			l.ParamPos[key] = p.annotationPos(val)
			if val.Kind == yaml.SequenceNode {
				for j, it := range val.Content {
					l.ParamPos[key+"."+strconv.Itoa(j)] = p.annotationPos(it)
				}
			}
		}
	}
	val, ok := p.jsonValue(source, v)
	if !ok {
		return l, false
	}
	l.Params, _ = json.Marshal(val)
	return l, true
}

func (p *fileParser) annotationPos(n *yaml.Node) annotations.Position {
	return annotations.Position{File: p.file, Line: n.Line, Column: n.Column}
}

// jsonNumberRE is the syntax of a JSON number.
var jsonNumberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// jsonValue converts a YAML value into what encoding/json marshals, and
// reports at its node what JSON cannot carry: .inf, .nan, keys that are
// not strings, aliases. A plain number keeps its spelling (json.Number),
// so that one too large for its parameter is reported as out of range.
func (p *fileParser) jsonValue(what string, n *yaml.Node) (any, bool) {
	switch n.Kind {
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
				p.errorf(k, "%s: a key must be a plain name, not %s", what, kindName(k))
				ok = false
				continue
			}
			if _, dup := out[k.Value]; dup {
				p.errorf(k, "%s: %s is given twice", what, k.Value)
				ok = false
				continue
			}
			val, good := p.jsonValue(what, v)
			out[k.Value], ok = val, ok && good
		}
		return out, ok
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		ok := true
		for _, it := range n.Content {
			val, good := p.jsonValue(what, it)
			out, ok = append(out, val), ok && good
		}
		return out, ok
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, true
		case "!!str":
			return n.Value, true
		case "!!int", "!!float":
			if n.Style == 0 && jsonNumberRE.MatchString(n.Value) {
				return json.Number(n.Value), true
			}
			var f float64
			if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				p.errorf(n, "%s: %s is not a finite number", what, n.Value)
				return nil, false
			}
			return f, true
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				p.errorf(n, "%s: %v", what, err)
				return nil, false
			}
			return b, true
		}
		return n.Value, true
	}
	p.errorf(n, "%s: %s is not supported here", what, kindName(n))
	return nil, false
}
