package collector

import (
	"fmt"
	"strings"

	"github.com/esm-dev/esm/internal/idl"
)

// logical is the logical type of a schema node, as far as validation
// cares about it.
type logical uint8

const (
	logicalNone logical = iota
	logicalDate
	logicalTimeMillis
	logicalTimeMicros
	logicalTimestampMillis
	logicalTimestampMicros
	logicalTimestampNanos
	logicalUUID
	logicalDecimal
	logicalBigDecimal
)

// Time ranges accepted for date and timestamps: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999Z, the range of an RFC 3339 timestamp.
const (
	minDateDays   = -719162
	maxDateDays   = 2932896
	minTimeMillis = -62135596800000
	maxTimeMillis = 253402300799999
	minTimeMicros = minTimeMillis * 1000
	maxTimeMicros = maxTimeMillis*1000 + 999
	dayMillis     = 86400000
	dayMicros     = dayMillis * 1000
)

// node is one compiled schema: what the JSON walker checks a value
// against. Named types compile to one shared node, so recursive records
// compile to a cyclic graph.
type node struct {
	kind    idl.Kind
	logical logical
	// name is the Avro type name used in messages and in the union
	// wrapper form: "int", "com.example.shop.LineItem".
	name string
	// simple is the simple name of a named type.
	simple string

	// Records.
	fields   []field
	fieldIdx map[string]int
	// required has a bit set for each field without a default.
	required []uint64

	// Enums.
	symbols map[string]struct{}

	// Fixed size; decimal precision and scale.
	size             int
	precision, scale int

	// Array items and map values.
	items *node

	// Union branches, and the branch for each name of the wrapped form
	// {"<type name>": value}.
	branches   []*node
	branchName map[string]*node
}

// field is one record field.
type field struct {
	name     string
	node     *node
	required bool
}

// compiler turns idl schemas into nodes.
type compiler struct {
	named map[*idl.Schema]*node
}

// compileSchema compiles s and everything it references.
func compileSchema(s *idl.Schema) (*node, error) {
	c := &compiler{named: map[*idl.Schema]*node{}}
	return c.compile(s)
}

func (c *compiler) compile(s *idl.Schema) (*node, error) {
	if n, ok := c.named[s]; ok {
		return n, nil
	}
	n := &node{kind: s.Kind, name: s.FullName(), simple: s.Name}
	if s.Kind.IsNamed() {
		c.named[s] = n
	}
	switch lt := s.LogicalType(); {
	case lt == "date" && s.Kind == idl.Int:
		n.logical = logicalDate
	case lt == "time-millis" && s.Kind == idl.Int:
		n.logical = logicalTimeMillis
	case lt == "time-micros" && s.Kind == idl.Long:
		n.logical = logicalTimeMicros
	case (lt == "timestamp-millis" || lt == "local-timestamp-millis") && s.Kind == idl.Long:
		n.logical = logicalTimestampMillis
	case (lt == "timestamp-micros" || lt == "local-timestamp-micros") && s.Kind == idl.Long:
		n.logical = logicalTimestampMicros
	case (lt == "timestamp-nanos" || lt == "local-timestamp-nanos") && s.Kind == idl.Long:
		n.logical = logicalTimestampNanos
	case lt == "uuid" && (s.Kind == idl.String || s.Kind == idl.Fixed && s.Size == 16):
		n.logical = logicalUUID
	case lt == "big-decimal" && s.Kind == idl.Bytes:
		n.logical = logicalBigDecimal
	case lt == "decimal" && (s.Kind == idl.Bytes || s.Kind == idl.Fixed):
		p, sc := intProp(s, "precision"), intProp(s, "scale")
		// An invalid decimal (one whose precision a fixed cannot hold
		// included) is ignored, as Avro ignores it: the value is
		// validated as its underlying type.
		if p > 0 && sc >= 0 && sc <= p && (s.Kind == idl.Bytes || p <= maxDecimalPrecision(s.Size)) {
			n.logical, n.precision, n.scale = logicalDecimal, p, sc
		}
	}
	switch s.Kind {
	case idl.Record:
		n.fields = make([]field, len(s.Fields))
		n.fieldIdx = make(map[string]int, len(s.Fields))
		n.required = make([]uint64, (len(s.Fields)+63)/64)
		for i, f := range s.Fields {
			fn, err := c.compile(f.Type)
			if err != nil {
				return nil, err
			}
			n.fields[i] = field{name: f.Name, node: fn, required: f.Default == nil}
			n.fieldIdx[f.Name] = i
			if f.Default == nil {
				n.required[i/64] |= 1 << (i % 64)
			}
		}
	case idl.Enum:
		n.symbols = make(map[string]struct{}, len(s.Symbols))
		for _, sym := range s.Symbols {
			n.symbols[sym] = struct{}{}
		}
	case idl.Fixed:
		n.size = s.Size
	case idl.Array, idl.Map:
		items, err := c.compile(s.Items)
		if err != nil {
			return nil, err
		}
		n.items = items
	case idl.Union:
		n.branchName = make(map[string]*node, 2*len(s.Types))
		names := make([]string, 0, len(s.Types))
		for _, t := range s.Types {
			b, err := c.compile(t)
			if err != nil {
				return nil, err
			}
			n.branches = append(n.branches, b)
			n.branchName[b.name] = b
			if b.kind.IsNamed() {
				if _, dup := n.branchName[b.simple]; !dup {
					n.branchName[b.simple] = b
				}
			}
			names = append(names, b.name)
		}
		n.name = "union [" + strings.Join(names, ", ") + "]"
	case idl.Null, idl.Boolean, idl.Int, idl.Long, idl.Float, idl.Double, idl.Bytes, idl.String:
	default:
		return nil, fmt.Errorf("compile %s: unsupported schema kind %s", s.FullName(), s.Kind)
	}
	return n, nil
}

// intProp returns the integer property name of s, or -1.
func intProp(s *idl.Schema, name string) int {
	v := s.Prop(name)
	if v == nil || v.Kind != idl.IntValue || v.Int < 0 || v.Int > 1<<20 {
		return -1
	}
	return int(v.Int)
}
