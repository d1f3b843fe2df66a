package idl

import (
	"strings"

	"github.com/esm-dev/esm/internal/diag"
)

// Kind is the kind of an Avro schema.
type Kind uint8

// The schema kinds. The primitive kinds come first, in Avro's order.
const (
	Null Kind = iota
	Boolean
	Int
	Long
	Float
	Double
	Bytes
	String
	Record
	Enum
	Fixed
	Array
	Map
	Union
	// Ref is a reference to a named type that was not yet defined where it
	// was used. Parsing replaces every Ref by its target before returning;
	// consumers never see one.
	Ref
)

var kindNames = [...]string{"null", "boolean", "int", "long", "float", "double", "bytes", "string",
	"record", "enum", "fixed", "array", "map", "union", "reference"}

// String returns the Avro type name of the kind ("record", "int", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// IsPrimitive reports whether k is one of Avro's primitive types.
func (k Kind) IsPrimitive() bool { return k <= String }

// IsNamed reports whether schemas of kind k have a name.
func (k Kind) IsNamed() bool { return k == Record || k == Enum || k == Fixed }

// Schema is one Avro schema: a primitive, a named type (record, error,
// enum, fixed) or a complex type (array, map, union). Named types are
// shared: every use of a named type points to the same *Schema, so the
// graph may contain cycles (recursive records).
type Schema struct {
	Kind Kind

	// Named types.
	Name      string   // simple name
	Namespace string   // "" is the null namespace
	Doc       string   // doc comment, stripped as the reference strips it
	Aliases   []string // full names
	IsError   bool     // an error record
	Fields    []*Field // record fields
	Symbols   []string // enum symbols
	Default   string   // enum default symbol; "" when none
	Size      int      // fixed size

	// Items is the item schema of an array and the value schema of a map.
	Items *Schema
	// Types are the branches of a union.
	Types []*Schema

	// Props are the schema's properties (annotations), including
	// logicalType, precision and scale, in source order.
	Props []Prop

	// Range is the source range of the declaration (named types, from the
	// first annotation or keyword to the closing brace or semicolon) or of
	// the type expression.
	Range diag.Range
	// NameRange is the range of the name in a named type's declaration.
	NameRange diag.Range
	// Protocol is the protocol that declares a named type; nil for types
	// of schema-mode files and .avsc files.
	Protocol *Protocol

	refName string  // Ref: the full name looked up
	target  *Schema // Ref: the resolved named type
	shared  bool    // a shared, immutable schema (primitives, logical keywords)
}

// FullName returns namespace.name for named types, the type name otherwise.
func (s *Schema) FullName() string {
	if !s.Kind.IsNamed() {
		return s.Kind.String()
	}
	if s.Namespace == "" {
		return s.Name
	}
	return s.Namespace + "." + s.Name
}

// Prop returns the value of the property name, or nil.
func (s *Schema) Prop(name string) *Value { return findProp(s.Props, name) }

// LogicalType returns the logicalType property, or "".
func (s *Schema) LogicalType() string {
	if v := s.Prop("logicalType"); v != nil && v.Kind == StringValue {
		return v.Str
	}
	return ""
}

// Filename returns the file the schema was declared in ("" for primitives
// and built-in types).
func (s *Schema) Filename() string { return s.Range.File.Name() }

// Field is one field of a record, or one parameter of a message.
type Field struct {
	Name    string
	Type    *Schema
	Doc     string
	Default *Value // nil when the field has no default
	Order   string // "ascending" (also when unset), "descending" or "ignore"
	Aliases []string
	Props   []Prop
	// Range covers the variable declaration (annotations, name, default);
	// NameRange the name alone; TypeRange the field's type expression.
	Range, NameRange, TypeRange diag.Range
}

// Prop returns the value of the field property name, or nil.
func (f *Field) Prop(name string) *Value { return findProp(f.Props, name) }

// Prop is one property, written in IDL as an annotation @name(value).
type Prop struct {
	Name  string
	Value *Value
	// Range covers the whole annotation, from '@' to ')'.
	Range diag.Range
	// Overrides is the range of an earlier annotation of the same name on
	// the same declaration, whose value this one replaced (the last value
	// wins, as in the reference); zero when there was none.
	Overrides diag.Range
}

func findProp(props []Prop, name string) *Value {
	for i := range props {
		if props[i].Name == name {
			return props[i].Value
		}
	}
	return nil
}

// Message is one message of a protocol.
type Message struct {
	Name     string
	Doc      string
	Props    []Prop
	Request  []*Field
	Response *Schema // the null schema for void
	Errors   []*Schema
	OneWay   bool
	Range    diag.Range
}

// Protocol is an Avro protocol.
type Protocol struct {
	Name      string
	Namespace string
	Doc       string
	Props     []Prop
	Types     []*Schema  // every named type, in definition order
	Messages  []*Message // in declaration order, unique by name
	Range     diag.Range
}

// Prop returns the value of the protocol property name, or nil.
func (p *Protocol) Prop(name string) *Value { return findProp(p.Props, name) }

// splitName splits a possibly dotted name into namespace and simple name.
func splitName(full string) (ns, name string) {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "", full
}

// primitive schemas without properties are shared.
var primitives = func() (p [String + 1]*Schema) {
	for k := Null; k <= String; k++ {
		p[k] = &Schema{Kind: k, shared: true}
	}
	return p
}()

// Primitive returns the shared schema of a primitive kind. It must not be
// modified.
func Primitive(k Kind) *Schema { return primitives[k] }
