package idl

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/esm-dev/esm/internal/diag"
)

// ValueKind is the kind of a JSON value.
type ValueKind uint8

// The JSON value kinds. IntValue and FloatValue are both JSON numbers; the
// difference matters for defaults (an int field takes no 1.5).
const (
	NullValue ValueKind = iota
	BoolValue
	IntValue
	FloatValue
	StringValue
	ArrayValue
	ObjectValue
)

var valueKindNames = [...]string{"null", "boolean", "integer", "number", "string", "array", "object"}

// String names the kind as a user reads it ("string", "integer", ...).
func (k ValueKind) String() string {
	if int(k) < len(valueKindNames) {
		return valueKindNames[k]
	}
	return "invalid"
}

// Value is a JSON value with its source range: an annotation's argument or
// a default value. Numbers keep their exact value: integers as int64 (with
// Text for the exact spelling of JSON-imported numbers beyond int64),
// floats as float64 (NaN and ±Infinity are allowed, as in the reference).
type Value struct {
	Kind  ValueKind
	Bool  bool
	Int   int64   // IntValue
	Float float64 // FloatValue
	// Long marks an IntValue that the reference treats as a long: one with
	// an L suffix or outside the int range.
	Long bool
	// Str is the string of a StringValue; for numbers read from JSON files
	// it is the literal as written.
	Str   string
	Items []*Value // ArrayValue elements; ObjectValue member values
	Keys  []string // ObjectValue member names, parallel to Items
	Range diag.Range
}

// Member returns the value of the object member name (the last one if the
// name repeats), or nil.
func (v *Value) Member(name string) *Value {
	if v == nil || v.Kind != ObjectValue {
		return nil
	}
	for i := len(v.Keys) - 1; i >= 0; i-- {
		if v.Keys[i] == name {
			return v.Items[i]
		}
	}
	return nil
}

// IsNumber reports whether v is an integer or a float.
func (v *Value) IsNumber() bool { return v.Kind == IntValue || v.Kind == FloatValue }

// Number returns the value of a number as float64.
func (v *Value) Number() float64 {
	if v.Kind == IntValue {
		if v.Str != "" {
			if f, err := strconv.ParseFloat(v.Str, 64); err == nil {
				return f
			}
		}
		return float64(v.Int)
	}
	return v.Float
}

// Interface converts v into the values encoding/json produces (nil, bool,
// float64 or int64, string, []any, map[string]any). Integers stay int64 so
// that longs survive exactly.
func (v *Value) Interface() any {
	switch v.Kind {
	case NullValue:
		return nil
	case BoolValue:
		return v.Bool
	case IntValue:
		return v.Int
	case FloatValue:
		return v.Float
	case StringValue:
		return v.Str
	case ArrayValue:
		out := make([]any, len(v.Items))
		for i, it := range v.Items {
			out[i] = it.Interface()
		}
		return out
	default:
		out := make(map[string]any, len(v.Keys))
		for i, k := range v.Keys {
			out[k] = v.Items[i].Interface()
		}
		return out
	}
}

// MarshalJSON writes v as JSON. NaN and ±Infinity become the strings
// "NaN", "Infinity" and "-Infinity", as the reference writes them.
func (v *Value) MarshalJSON() ([]byte, error) {
	return appendValue(nil, v), nil
}

func appendValue(b []byte, v *Value) []byte {
	switch v.Kind {
	case NullValue:
		return append(b, "null"...)
	case BoolValue:
		return strconv.AppendBool(b, v.Bool)
	case IntValue:
		if v.Str != "" {
			return append(b, v.Str...)
		}
		return strconv.AppendInt(b, v.Int, 10)
	case FloatValue:
		return appendFloat(b, v.Float)
	case StringValue:
		return appendString(b, v.Str)
	case ArrayValue:
		b = append(b, '[')
		for i, it := range v.Items {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, it)
		}
		return append(b, ']')
	default:
		b = append(b, '{')
		for i, k := range v.Keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendValue(b, v.Items[i])
		}
		return append(b, '}')
	}
}

func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		b = strconv.AppendFloat(b, f, 'f', -1, 64)
		return append(b, ".0"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Non-ASCII text is kept as
// UTF-8; control characters and invalid UTF-8 are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x80 {
			i++
			continue
		}
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == 0xFFFD && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i += size
				start = i
				continue
			}
			if r == '\u2028' || r == '\u2029' {
				b = append(b, s[start:i]...)
				b = append(b, `\u202`...)
				b = append(b, hexDigits[r&0xF])
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		default:
			b = append(b, `\u00`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
