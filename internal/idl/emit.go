package idl

import (
	"bytes"
	"encoding/json"
	"math"
)

// JSONOptions adjust the JSON written for a schema.
type JSONOptions struct {
	// FiniteDefaults leaves out field defaults that hold NaN or ±Infinity.
	// The reference writes them as the strings "NaN" and "Infinity", which
	// Avro JSON parsers such as hamba/avro reject for float and double
	// fields.
	FiniteDefaults bool
}

// emitter writes schemas as the reference's writer does: a named type in
// full at its first occurrence and by name afterwards, namespaces and
// names relative to the enclosing namespace.
type emitter struct {
	b     []byte
	known map[*Schema]bool
	space string
	opts  JSONOptions
}

func newEmitter(opts JSONOptions) *emitter {
	return &emitter{known: make(map[*Schema]bool), opts: opts}
}

// JSON returns the result as the reference idl tool writes it, indented:
// the protocol, the main schema, or an array of every named schema.
func (r *Result) JSON() ([]byte, error) {
	var b []byte
	switch {
	case r.Kind == KindProtocol && r.Protocol != nil:
		e := newEmitter(JSONOptions{})
		e.protocol(r.Protocol)
		b = e.b
	case r.Kind == KindSchema && r.Main != nil:
		b = AppendSchemaJSON(nil, r.Main, JSONOptions{})
	default:
		b = append(b, '[')
		for i, t := range r.Types {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendSchemaJSON(b, t, JSONOptions{})
		}
		b = append(b, ']')
	}
	return indent(b)
}

// SchemaJSON returns s as a self-contained, indented schema, as the
// reference's idl2schemata writes each named type.
func SchemaJSON(s *Schema) ([]byte, error) {
	return indent(AppendSchemaJSON(nil, s, JSONOptions{}))
}

// AppendSchemaJSON appends s as compact, self-contained schema JSON.
func AppendSchemaJSON(b []byte, s *Schema, opts JSONOptions) []byte {
	e := newEmitter(opts)
	e.b = b
	e.schema(s)
	return e.b
}

func indent(b []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(b) * 2)
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (e *emitter) key(k string) {
	if n := len(e.b); n > 0 && e.b[n-1] != '{' {
		e.b = append(e.b, ',')
	}
	e.b = appendString(e.b, k)
	e.b = append(e.b, ':')
}

func (e *emitter) str(k, v string) {
	e.key(k)
	e.b = appendString(e.b, v)
}

func (e *emitter) props(props []Prop) {
	for i := range props {
		e.key(props[i].Name)
		e.b = appendValue(e.b, props[i].Value)
	}
}

// avroTypeNames are written in full even in their own namespace.
var avroTypeNames = map[string]bool{"record": true, "enum": true, "array": true, "map": true,
	"union": true, "fixed": true, "string": true, "bytes": true, "int": true, "long": true,
	"float": true, "double": true, "boolean": true, "null": true}

// qualified returns full relative to space.
func qualified(full, space string) string {
	ns, name := splitName(full)
	if ns != "" && ns == space && !avroTypeNames[name] {
		return name
	}
	return full
}

func (e *emitter) schema(s *Schema) {
	switch s.Kind {
	case Record, Enum, Fixed:
		if e.known[s] {
			e.b = appendString(e.b, qualified(s.FullName(), e.space))
			return
		}
		e.known[s] = true
		saved := e.space
		e.b = append(e.b, '{')
		switch {
		case s.Kind == Enum:
			e.str("type", "enum")
		case s.Kind == Fixed:
			e.str("type", "fixed")
		case s.IsError:
			e.str("type", "error")
		default:
			e.str("type", "record")
		}
		e.str("name", s.Name)
		if s.Namespace != "" {
			if s.Namespace != e.space {
				e.str("namespace", s.Namespace)
			}
		} else if e.space != "" {
			e.str("namespace", "")
		}
		e.space = s.Namespace
		if s.Doc != "" {
			e.str("doc", s.Doc)
		}
		switch s.Kind {
		case Record:
			e.key("fields")
			e.fields(s.Fields)
		case Enum:
			e.key("symbols")
			e.strings(s.Symbols, "")
			if s.Default != "" {
				e.str("default", s.Default)
			}
		case Fixed:
			e.key("size")
			e.b = appendInt(e.b, s.Size)
		}
		e.props(s.Props)
		if len(s.Aliases) > 0 {
			e.key("aliases")
			e.strings(s.Aliases, s.Namespace)
		}
		e.b = append(e.b, '}')
		e.space = saved
	case Array, Map:
		e.b = append(e.b, '{')
		if s.Kind == Array {
			e.str("type", "array")
			e.key("items")
		} else {
			e.str("type", "map")
			e.key("values")
		}
		e.schema(s.Items)
		e.props(s.Props)
		e.b = append(e.b, '}')
	case Union:
		e.b = append(e.b, '[')
		for i, t := range s.Types {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.schema(t)
		}
		e.b = append(e.b, ']')
	case Ref:
		if s.target != nil {
			e.schema(s.target)
			return
		}
		e.b = appendString(e.b, qualified(s.refName, e.space))
	default:
		if len(s.Props) == 0 {
			e.b = appendString(e.b, s.Kind.String())
			return
		}
		e.b = append(e.b, '{')
		e.str("type", s.Kind.String())
		e.props(s.Props)
		e.b = append(e.b, '}')
	}
}

// strings writes a JSON array of strings; with a namespace, each is a
// full name written relative to it.
func (e *emitter) strings(list []string, namespace string) {
	e.b = append(e.b, '[')
	for i, v := range list {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		if namespace != "" {
			v = qualified(v, namespace)
		}
		e.b = appendString(e.b, v)
	}
	e.b = append(e.b, ']')
}

func appendInt(b []byte, n int) []byte {
	return appendValue(b, &Value{Kind: IntValue, Int: int64(n)})
}

func (e *emitter) fields(fields []*Field) {
	e.b = append(e.b, '[')
	for i, f := range fields {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, '{')
		e.str("name", f.Name)
		e.key("type")
		e.schema(f.Type)
		if f.Doc != "" {
			e.str("doc", f.Doc)
		}
		if f.Default != nil && !(e.opts.FiniteDefaults && hasNonFinite(f.Default)) {
			e.key("default")
			e.b = appendValue(e.b, f.Default)
		}
		if f.Order != "" && f.Order != "ascending" {
			e.str("order", f.Order)
		}
		if len(f.Aliases) > 0 {
			e.key("aliases")
			e.strings(f.Aliases, "")
		}
		e.props(f.Props)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, ']')
}

func hasNonFinite(v *Value) bool {
	switch v.Kind {
	case FloatValue:
		return math.IsNaN(v.Float) || math.IsInf(v.Float, 0)
	case ArrayValue, ObjectValue:
		for _, it := range v.Items {
			if hasNonFinite(it) {
				return true
			}
		}
	}
	return false
}

func (e *emitter) protocol(p *Protocol) {
	e.b = append(e.b, '{')
	e.str("protocol", p.Name)
	if p.Namespace != "" {
		e.str("namespace", p.Namespace)
	}
	if p.Doc != "" {
		e.str("doc", p.Doc)
	}
	e.props(p.Props)
	e.space = p.Namespace
	e.key("types")
	e.b = append(e.b, '[')
	first := true
	for _, t := range p.Types {
		if e.known[t] {
			continue
		}
		if !first {
			e.b = append(e.b, ',')
		}
		first = false
		e.schema(t)
	}
	e.b = append(e.b, ']')
	e.key("messages")
	e.b = append(e.b, '{')
	for i, m := range p.Messages {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = appendString(e.b, m.Name)
		e.b = append(e.b, ':', '{')
		if m.Doc != "" {
			e.str("doc", m.Doc)
		}
		e.props(m.Props)
		e.key("request")
		e.fields(m.Request)
		e.key("response")
		e.schema(m.Response)
		if len(m.Errors) > 0 {
			e.key("errors")
			e.b = append(e.b, '[')
			for i, er := range m.Errors {
				if i > 0 {
					e.b = append(e.b, ',')
				}
				e.schema(er)
			}
			e.b = append(e.b, ']')
		}
		if m.OneWay {
			e.key("one-way")
			e.b = append(e.b, "true"...)
		}
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, '}', '}')
}
