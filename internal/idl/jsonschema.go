package idl

import (
	"strings"

	"github.com/esm-dev/esm/internal/diag"
)

// schemaFile converts the JSON of an .avsc or .avpr file into schemas,
// with Avro's JSON rules: namespaces inherited from the enclosing named
// type, names resolved in the enclosing namespace and then in the null
// namespace.
type schemaFile struct {
	l        *loader
	file     *diag.File
	protocol *Protocol // the protocol being read, for its types
}

func (l *loader) readJSON(path string, src []byte) (*schemaFile, *Value) {
	f := &schemaFile{l: l, file: diag.NewFile(path)}
	j := &jsonParser{src: string(src), file: f.file}
	j.err = func(start, end int, msg string) { l.errorf(j.rng(start, end), "%s", msg) }
	v := j.parseDocument()
	return f, v
}

func (f *schemaFile) errorf(v *Value, format string, args ...any) {
	f.l.errorf(v.Range, format, args...)
}

// parseSchemaJSON reads an .avsc file: one schema, or an array of them.
func (l *loader) parseSchemaJSON(path string, src []byte) *Schema {
	f, v := l.readJSON(path, src)
	if v == nil {
		return nil
	}
	return f.schema(v, "")
}

// parseProtocolJSON reads an .avpr file.
func (l *loader) parseProtocolJSON(path string, src []byte) *Protocol {
	f, v := l.readJSON(path, src)
	if v == nil {
		return nil
	}
	if v.Kind != ObjectValue {
		f.errorf(v, "a protocol must be a JSON object")
		return nil
	}
	p := &Protocol{Range: v.Range}
	f.protocol = p
	l.protocols = append(l.protocols, p)
	name := v.Member("protocol")
	if name == nil || name.Kind != StringValue {
		f.errorf(v, `a protocol needs a "protocol" name`)
		return nil
	}
	p.Namespace, p.Name = splitName(name.Str)
	if ns := v.Member("namespace"); ns != nil && !strings.Contains(name.Str, ".") {
		if ns.Kind == StringValue {
			p.Namespace = ns.Str
		} else if ns.Kind != NullValue {
			f.errorf(ns, `"namespace" must be a string`)
		}
	}
	if doc := v.Member("doc"); doc != nil && doc.Kind == StringValue {
		p.Doc = doc.Str
	}
	for i, k := range v.Keys {
		switch k {
		case "protocol", "namespace", "doc", "types", "messages":
		default:
			p.Props = append(p.Props, Prop{Name: k, Value: v.Items[i], Range: v.Items[i].Range})
		}
	}
	if types := v.Member("types"); types != nil {
		if types.Kind != ArrayValue {
			f.errorf(types, `"types" must be an array`)
		} else {
			for _, t := range types.Items {
				f.schema(t, p.Namespace)
			}
		}
	}
	if msgs := v.Member("messages"); msgs != nil {
		if msgs.Kind != ObjectValue {
			f.errorf(msgs, `"messages" must be an object`)
		} else {
			for i, k := range msgs.Keys {
				if m := f.message(k, msgs.Items[i], p.Namespace); m != nil {
					p.addMessage(m)
				}
			}
		}
	}
	return p
}

func (f *schemaFile) message(name string, v *Value, ns string) *Message {
	if v.Kind != ObjectValue {
		f.errorf(v, "message %s must be a JSON object", name)
		return nil
	}
	m := &Message{Name: name, Range: v.Range}
	for i, k := range v.Keys {
		it := v.Items[i]
		switch k {
		case "doc":
			if it.Kind == StringValue {
				m.Doc = it.Str
			}
		case "request":
			if it.Kind != ArrayValue {
				f.errorf(it, `"request" of message %s must be an array of fields`, name)
				continue
			}
			for _, fv := range it.Items {
				if fld := f.field(fv, ns); fld != nil {
					m.Request = append(m.Request, fld)
				}
			}
		case "response":
			m.Response = f.schema(it, ns)
		case "errors":
			if it.Kind != ArrayValue {
				f.errorf(it, `"errors" of message %s must be an array`, name)
				continue
			}
			for _, e := range it.Items {
				if s := f.schema(e, ns); s != nil {
					m.Errors = append(m.Errors, s)
				}
			}
		case "one-way":
			if it.Kind != BoolValue {
				f.errorf(it, `"one-way" must be true or false`)
				continue
			}
			m.OneWay = it.Bool
		default:
			m.Props = append(m.Props, Prop{Name: k, Value: it, Range: it.Range})
		}
	}
	if m.Response == nil {
		f.errorf(v, `message %s has no "response"`, name)
		m.Response = primitives[Null]
	}
	return m
}

var primitiveKinds = map[string]Kind{"null": Null, "boolean": Boolean, "int": Int, "long": Long,
	"float": Float, "double": Double, "bytes": Bytes, "string": String}

// schema converts one JSON schema; ns is the enclosing namespace.
func (f *schemaFile) schema(v *Value, ns string) *Schema {
	switch v.Kind {
	case StringValue:
		if k, ok := primitiveKinds[v.Str]; ok {
			return primitives[k]
		}
		if v.Str == "" {
			f.errorf(v, "empty type name")
			return nil
		}
		fallback := ""
		if !strings.Contains(v.Str, ".") && ns != "" {
			fallback = v.Str
		}
		return f.l.lookup(fullName(ns, v.Str), fallback, v.Range)
	case ArrayValue:
		u := &Schema{Kind: Union, Range: v.Range, Types: make([]*Schema, 0, len(v.Items))}
		for _, it := range v.Items {
			if b := f.schema(it, ns); b != nil {
				u.Types = append(u.Types, b)
			}
		}
		return u
	case ObjectValue:
	default:
		f.errorf(v, "a schema must be a type name, an object or an array, not %s", describeValue(v))
		return nil
	}
	tv := v.Member("type")
	if tv == nil {
		f.errorf(v, `schema has no "type"`)
		return nil
	}
	if tv.Kind != StringValue {
		// {"type": {...}} and {"type": [...]} nest a schema.
		return f.schema(tv, ns)
	}
	typ := tv.Str
	if k, ok := primitiveKinds[typ]; ok {
		s := &Schema{Kind: k, Range: v.Range}
		f.props(s, v, "type")
		if len(s.Props) == 0 {
			return primitives[k]
		}
		return s
	}
	switch typ {
	case "record", "error":
		s := f.named(v, Record, ns)
		if s == nil {
			return nil
		}
		s.IsError = typ == "error"
		f.props(s, v, "type", "name", "namespace", "doc", "aliases", "fields")
		fields := v.Member("fields")
		if fields == nil || fields.Kind != ArrayValue {
			f.errorf(v, `record %s needs a "fields" array`, s.Name)
			return s
		}
		for _, fv := range fields.Items {
			fld := f.field(fv, s.Namespace)
			if fld == nil {
				continue
			}
			for _, g := range s.Fields {
				if g.Name == fld.Name {
					f.errorf(fv, "duplicate field %s in record %s", fld.Name, s.Name)
				}
			}
			s.Fields = append(s.Fields, fld)
		}
		return s
	case "enum":
		s := f.named(v, Enum, ns)
		if s == nil {
			return nil
		}
		f.props(s, v, "type", "name", "namespace", "doc", "aliases", "symbols", "default")
		syms := v.Member("symbols")
		if syms == nil || syms.Kind != ArrayValue {
			f.errorf(v, `enum %s needs a "symbols" array`, s.Name)
			return s
		}
		seen := map[string]bool{}
		for _, sv := range syms.Items {
			if sv.Kind != StringValue || !validName(sv.Str) {
				f.errorf(sv, "enum symbol must be a valid name as a string")
				continue
			}
			if seen[sv.Str] {
				f.errorf(sv, "duplicate enum symbol %s", sv.Str)
				continue
			}
			seen[sv.Str] = true
			s.Symbols = append(s.Symbols, sv.Str)
		}
		if d := v.Member("default"); d != nil {
			if d.Kind != StringValue || !seen[d.Str] {
				f.errorf(d, "enum default must be one of the symbols of %s", s.Name)
			} else {
				s.Default = d.Str
			}
		}
		return s
	case "fixed":
		s := f.named(v, Fixed, ns)
		if s == nil {
			return nil
		}
		f.props(s, v, "type", "name", "namespace", "doc", "aliases", "size")
		size := v.Member("size")
		if size == nil || size.Kind != IntValue || size.Str != "" || size.Int < 0 || size.Int > 1<<31-1 {
			f.errorf(v, `fixed %s needs a non-negative integer "size"`, s.Name)
			return s
		}
		s.Size = int(size.Int)
		return s
	case "array", "map":
		s := &Schema{Kind: Array, Range: v.Range}
		key := "items"
		if typ == "map" {
			s.Kind, key = Map, "values"
		}
		f.props(s, v, "type", key)
		it := v.Member(key)
		if it == nil {
			f.errorf(v, "%s needs %q", typ, key)
			return nil
		}
		s.Items = f.schema(it, ns)
		if s.Items == nil {
			return nil
		}
		return s
	}
	// {"type": "SomeName"}: a reference.
	return f.schema(tv, ns)
}

// named reads name, namespace, doc and aliases of a named type and
// defines it, before its fields are read, so that it can refer to itself.
func (f *schemaFile) named(v *Value, kind Kind, ns string) *Schema {
	nv := v.Member("name")
	if nv == nil || nv.Kind != StringValue || nv.Str == "" {
		f.errorf(v, "%s needs a \"name\"", kind)
		return nil
	}
	s := &Schema{Kind: kind, Range: v.Range, NameRange: nv.Range}
	space, name := splitName(nv.Str)
	if !strings.Contains(nv.Str, ".") {
		space = ns
		if nsv := v.Member("namespace"); nsv != nil {
			switch nsv.Kind {
			case StringValue:
				space = nsv.Str
			case NullValue:
				space = ""
			default:
				f.errorf(nsv, `"namespace" must be a string`)
			}
		}
	}
	if _, prim := primitiveKinds[name]; !validName(name) || prim {
		f.errorf(nv, "illegal name %q", name)
	}
	if space != "" {
		for _, part := range strings.Split(space, ".") {
			if !validName(part) {
				f.errorf(nv, "illegal namespace %q", space)
				break
			}
		}
	}
	s.Name, s.Namespace = name, space
	s.Protocol = f.protocol
	if doc := v.Member("doc"); doc != nil && doc.Kind == StringValue {
		s.Doc = doc.Str
	}
	if al := v.Member("aliases"); al != nil {
		if al.Kind != ArrayValue {
			f.errorf(al, `"aliases" must be an array of strings`)
		} else {
			for _, a := range al.Items {
				if a.Kind != StringValue {
					f.errorf(a, `"aliases" must be an array of strings`)
					continue
				}
				s.Aliases = append(s.Aliases, fullName(space, a.Str))
			}
		}
	}
	f.l.define(s)
	return s
}

// props copies every member of v not in known into s.Props.
func (f *schemaFile) props(s *Schema, v *Value, known ...string) {
outer:
	for i, k := range v.Keys {
		for _, kn := range known {
			if k == kn {
				continue outer
			}
		}
		s.Props = append(s.Props, Prop{Name: k, Value: v.Items[i], Range: v.Items[i].Range})
	}
}

func (f *schemaFile) field(v *Value, ns string) *Field {
	if v.Kind != ObjectValue {
		f.errorf(v, "a field must be a JSON object")
		return nil
	}
	nv := v.Member("name")
	if nv == nil || nv.Kind != StringValue || !validName(nv.Str) {
		f.errorf(v, `a field needs a valid "name"`)
		return nil
	}
	fld := &Field{Name: nv.Str, Order: "ascending", Range: v.Range, NameRange: nv.Range}
	tv := v.Member("type")
	if tv == nil {
		f.errorf(v, `field %s has no "type"`, fld.Name)
		return nil
	}
	fld.TypeRange = tv.Range
	fld.Type = f.schema(tv, ns)
	if fld.Type == nil {
		return nil
	}
	for i, k := range v.Keys {
		it := v.Items[i]
		switch k {
		case "name", "type":
		case "doc":
			if it.Kind == StringValue {
				fld.Doc = it.Str
			}
		case "default":
			fld.Default = it
		case "order":
			o := strings.ToLower(it.Str)
			if it.Kind != StringValue || (o != "ascending" && o != "descending" && o != "ignore") {
				f.errorf(it, `"order" must be "ascending", "descending" or "ignore"`)
				continue
			}
			fld.Order = o
		case "aliases":
			if it.Kind != ArrayValue {
				f.errorf(it, `"aliases" must be an array of strings`)
				continue
			}
			for _, a := range it.Items {
				if a.Kind == StringValue {
					fld.Aliases = append(fld.Aliases, a.Str)
				} else {
					f.errorf(a, `"aliases" must be an array of strings`)
				}
			}
		default:
			fld.Props = append(fld.Props, Prop{Name: k, Value: it, Range: it.Range})
		}
	}
	return fld
}
