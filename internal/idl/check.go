package idl

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// target returns the named type a reference points to; other schemas are
// returned as they are.
func (l *loader) target(s *Schema) *Schema {
	if s != nil && s.Kind == Ref && s.target != nil {
		return s.target
	}
	return s
}

// resolve binds every forward reference to its named type, reports the
// names defined nowhere, and then replaces the references in the graph.
func (l *loader) resolve() {
	for _, r := range l.refs {
		t := l.names[r.refName]
		if t == nil && r.Name != "" {
			t = l.names[r.Name]
		}
		if t == nil {
			l.errorf(r.Range, "undefined name: %s", r.refName)
			continue
		}
		r.target = t
	}
	if len(l.refs) == 0 {
		return
	}
	for _, t := range l.types {
		for _, f := range t.Fields {
			f.Type = l.replaceRefs(f.Type)
		}
	}
	for _, p := range l.protocols {
		for _, m := range p.Messages {
			l.replaceMessageRefs(m)
		}
	}
}

func (l *loader) replaceMessageRefs(m *Message) {
	for _, f := range m.Request {
		f.Type = l.replaceRefs(f.Type)
	}
	m.Response = l.replaceRefs(m.Response)
	for i, e := range m.Errors {
		m.Errors[i] = l.target(e)
	}
}

// replaceRefs replaces references inside the anonymous types of s; named
// types are handled once each, from l.types.
func (l *loader) replaceRefs(s *Schema) *Schema {
	if s == nil {
		return nil
	}
	switch s.Kind {
	case Ref:
		return l.target(s)
	case Array, Map:
		s.Items = l.replaceRefs(s.Items)
	case Union:
		for i, b := range s.Types {
			s.Types[i] = l.replaceRefs(b)
		}
	}
	return s
}

// check validates what needs the whole, resolved graph: unions and
// default values.
func (l *loader) check() {
	for _, t := range l.types {
		for _, f := range t.Fields {
			l.checkType(f.Type)
			l.checkFieldDefault(f)
		}
	}
	for _, p := range l.protocols {
		for _, m := range p.Messages {
			for _, f := range m.Request {
				l.checkType(f.Type)
				l.checkFieldDefault(f)
			}
			l.checkType(m.Response)
			for _, e := range m.Errors {
				if e.Kind != Ref && (e.Kind != Record || !e.IsError) {
					l.warnf(m.Range, "message %s throws %s, which is not an error type", m.Name, e.FullName())
				}
			}
		}
	}
}

// checkType validates the anonymous types inside s: a union may not hold
// a union, nor two schemas of one unnamed type or one name.
func (l *loader) checkType(s *Schema) {
	switch s.Kind {
	case Array, Map:
		l.checkType(s.Items)
	case Union:
		seen := make(map[string]bool, len(s.Types))
		for _, b := range s.Types {
			if b.Kind == Ref {
				continue // undefined, and reported as such
			}
			if b.Kind == Union {
				l.errorf(s.Range, "a union may not immediately contain another union")
				continue
			}
			key := b.FullName()
			if seen[key] {
				l.errorf(s.Range, "union contains %s more than once", key)
			}
			seen[key] = true
			l.checkType(b)
		}
	}
}

func (l *loader) checkFieldDefault(f *Field) {
	if f.Default == nil {
		return
	}
	if msg, at := checkDefault(f.Type, f.Default, 0); msg != "" {
		r := at.Range
		if r.File == nil {
			r = f.Range
		}
		l.errorf(r, "invalid default value for field %s: %s", f.Name, msg)
	}
}

// checkDefault reports why v is not a valid default of s ("" if it is)
// and the sub-value at fault. A union's default must fit its first type,
// as the Avro specification says (and hamba/avro enforces).
func checkDefault(s *Schema, v *Value, depth int) (string, *Value) {
	if depth > 64 {
		return "", nil
	}
	want := func(what string) (string, *Value) {
		return fmt.Sprintf("%s expected, got %s", what, describeValue(v)), v
	}
	switch s.Kind {
	case Null:
		if v.Kind != NullValue {
			return want("null")
		}
	case Boolean:
		if v.Kind != BoolValue {
			return want("true or false")
		}
	case Int:
		if v.Kind != IntValue || v.Str != "" || v.Int != int64(int32(v.Int)) {
			if v.Kind == IntValue {
				return fmt.Sprintf("%s is out of range for an int", v.text()), v
			}
			return want("an int")
		}
	case Long:
		if v.Kind != IntValue || v.Str != "" {
			if v.Kind == IntValue {
				return fmt.Sprintf("%s is out of range for a long", v.text()), v
			}
			return want("a long")
		}
	case Float, Double:
		if !v.IsNumber() {
			return want("a number")
		}
	case Bytes, String:
		if v.Kind != StringValue {
			return want("a string")
		}
	case Fixed:
		if v.Kind != StringValue {
			return want("a string of " + fmt.Sprint(s.Size) + " characters")
		}
		if n := utf8.RuneCountInString(v.Str); n != s.Size {
			return fmt.Sprintf("fixed %s needs a string of %d characters, got %d", s.Name, s.Size, n), v
		}
	case Enum:
		if v.Kind != StringValue {
			return want("a symbol of enum " + s.Name + " as a string")
		}
		for _, sym := range s.Symbols {
			if sym == v.Str {
				return "", nil
			}
		}
		return fmt.Sprintf("%q is not a symbol of enum %s (%s)", v.Str, s.Name, strings.Join(s.Symbols, ", ")), v
	case Array:
		if v.Kind != ArrayValue {
			return want("an array")
		}
		for _, it := range v.Items {
			if msg, at := checkDefault(s.Items, it, depth+1); msg != "" {
				return msg, at
			}
		}
	case Map:
		if v.Kind != ObjectValue {
			return want("an object")
		}
		for _, it := range v.Items {
			if msg, at := checkDefault(s.Items, it, depth+1); msg != "" {
				return msg, at
			}
		}
	case Record:
		if v.Kind != ObjectValue {
			return want("an object with the fields of " + s.Name)
		}
		for _, f := range s.Fields {
			fv := v.Member(f.Name)
			if fv == nil {
				if f.Default == nil {
					return fmt.Sprintf("field %s of %s is missing and has no default", f.Name, s.Name), v
				}
				continue
			}
			if msg, at := checkDefault(f.Type, fv, depth+1); msg != "" {
				return msg, at
			}
		}
	case Union:
		if len(s.Types) == 0 {
			return "", nil
		}
		first := s.Types[0]
		if msg, at := checkDefault(first, v, depth+1); msg != "" {
			for _, b := range s.Types[1:] {
				if m, _ := checkDefault(b, v, depth+1); m == "" {
					return fmt.Sprintf("a union's default must match its first type (%s), but this value matches %s: put %s first", first.FullName(), b.FullName(), b.FullName()), v
				}
			}
			return msg, at
		}
	}
	return "", nil
}

func (v *Value) text() string {
	if v.Kind == IntValue && v.Str != "" {
		return v.Str
	}
	return string(appendValue(nil, v))
}

func describeValue(v *Value) string {
	switch v.Kind {
	case NullValue:
		return "null"
	case BoolValue, IntValue:
		return v.text()
	case FloatValue:
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			return fmt.Sprint(v.Float)
		}
		return v.text()
	case StringValue:
		s := v.Str
		if len(s) > 40 {
			s = s[:37] + "..."
		}
		return fmt.Sprintf("string %q", s)
	case ArrayValue:
		return "an array"
	default:
		return "an object"
	}
}
