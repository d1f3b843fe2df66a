package idl

// arena hands out schemas, fields and values from slabs: a large schema
// file makes hundreds of thousands of them, and one allocation per slab
// instead of one per object halves the parse time. Slabs start small, so
// that a small file does not pay for a large one, and double up to
// maxSlab. The objects live as long as the graph that points to them, so
// nothing is lost by sharing a slab.
type arena struct {
	schemas []Schema
	fields  []Field
	values  []Value

	nSchemas, nFields, nValues int // size of the next slab
}

const (
	minSlab = 8
	maxSlab = 256
)

func grow(n *int) int {
	switch {
	case *n < minSlab:
		*n = minSlab
	case *n < maxSlab:
		*n *= 2
	}
	return *n
}

func (a *arena) schema() *Schema {
	if len(a.schemas) == 0 {
		a.schemas = make([]Schema, grow(&a.nSchemas))
	}
	s := &a.schemas[0]
	a.schemas = a.schemas[1:]
	return s
}

func (a *arena) field() *Field {
	if len(a.fields) == 0 {
		a.fields = make([]Field, grow(&a.nFields))
	}
	f := &a.fields[0]
	a.fields = a.fields[1:]
	return f
}

func (a *arena) value() *Value {
	if len(a.values) == 0 {
		a.values = make([]Value, grow(&a.nValues))
	}
	v := &a.values[0]
	a.values = a.values[1:]
	return v
}

func (a *arena) newSchema(v Schema) *Schema {
	s := a.schema()
	*s = v
	return s
}

func (a *arena) newValue(v Value) *Value {
	p := a.value()
	*p = v
	return p
}
