package collector

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/esm-dev/esm/internal/idl"
)

// binaryDecoder walks one Avro binary event once, checking it against a
// compiled schema as it reads, as decoder does for JSON: no value is
// built, so the memory an event takes does not depend on the lengths and
// counts it claims. Lengths are checked against the bytes left; array and
// map blocks claim at most as many items as the bytes left can hold,
// plus a budget of items that take no bytes (null, an empty record),
// which bounds the time too. Nesting is bounded by maxDepth, as for
// JSON, and logical types are checked by the same functions.
type binaryDecoder struct {
	b     []byte
	i     int
	depth int
	// empty is how many more items of zero bytes the event may hold.
	empty int
	// scratch holds the text of a value for a message.
	scratch []byte
}

// validate checks that b is exactly one Avro binary value of n. At most
// maxEmpty array and map items may take no bytes.
func (d *binaryDecoder) validate(n *node, b []byte, maxEmpty int) *eventError {
	d.b, d.i, d.depth, d.empty = b, 0, 0, maxEmpty
	if err := d.value(n); err != nil {
		return err
	}
	if d.i < len(d.b) {
		return d.malformed("data after the event")
	}
	return nil
}

func (d *binaryDecoder) malformed(msg string) *eventError {
	return &eventError{reason: ReasonMalformed, msg: msg, off: d.i}
}

func (d *binaryDecoder) mismatch(off int, msg string) *eventError {
	return &eventError{reason: ReasonSchema, msg: msg, off: off}
}

// left is the number of bytes not read yet.
func (d *binaryDecoder) left() int { return len(d.b) - d.i }

// varint reads a zig-zag varint of at most bits bits (32 or 64).
func (d *binaryDecoder) varint(bits uint) (int64, *eventError) {
	start := d.i
	var u uint64
	for shift := uint(0); ; shift += 7 {
		if d.i >= len(d.b) {
			d.i = start
			return 0, d.malformed("unexpected end of the body in a varint")
		}
		c := d.b[d.i]
		d.i++
		if shift+7 > bits && c>>(bits-shift) != 0 {
			d.i = start
			return 0, d.malformed("varint overflows " + strconv.Itoa(int(bits)) + " bits")
		}
		u |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
}

// length reads the length of a string or bytes, which the bytes left
// must hold.
func (d *binaryDecoder) length() (int, *eventError) {
	at := d.i
	l, err := d.varint(64)
	if err != nil {
		return 0, err
	}
	if left := d.left(); l < 0 || l > int64(left) {
		d.i = at
		return 0, d.malformed("length " + strconv.FormatInt(l, 10) + " exceeds the " + strconv.Itoa(left) + " bytes left")
	}
	return int(l), nil
}

// enter and leave bound the nesting depth, as decoder's do.
func (d *binaryDecoder) enter() *eventError {
	d.depth++
	if d.depth > maxDepth {
		return d.mismatch(d.i, "nested more than "+strconv.Itoa(maxDepth)+" levels deep")
	}
	return nil
}

func (d *binaryDecoder) leave() { d.depth-- }

// value checks the value at the cursor against n and moves past it.
func (d *binaryDecoder) value(n *node) *eventError {
	switch n.kind {
	case idl.Null:
		return nil
	case idl.Boolean:
		if d.i >= len(d.b) {
			return d.malformed("unexpected end of the body")
		}
		if d.b[d.i] > 1 {
			return d.malformed("invalid boolean byte " + strconv.Itoa(int(d.b[d.i])))
		}
		d.i++
		return nil
	case idl.Int, idl.Long:
		return d.integer(n)
	case idl.Float, idl.Double:
		size := 8
		if n.kind == idl.Float {
			size = 4
		}
		if d.left() < size {
			return d.malformed("unexpected end of the body in a " + n.name)
		}
		d.i += size
		return nil
	case idl.String:
		return d.str(n)
	case idl.Bytes, idl.Fixed:
		return d.bytesValue(n)
	case idl.Enum:
		at := d.i
		idx, err := d.varint(32)
		if err != nil {
			return err
		}
		if idx < 0 || idx >= int64(len(n.symbols)) {
			d.i = at
			return d.malformed("enum index " + strconv.FormatInt(idx, 10) + " out of range for " + n.name)
		}
		return nil
	case idl.Record:
		if err := d.enter(); err != nil {
			return err
		}
		defer d.leave()
		for i := range n.fields {
			if err := d.value(n.fields[i].node); err != nil {
				return err.in(n.fields[i].name)
			}
		}
		return nil
	case idl.Array, idl.Map:
		return d.blocks(n)
	case idl.Union:
		if err := d.enter(); err != nil {
			return err
		}
		defer d.leave()
		at := d.i
		idx, err := d.varint(64)
		if err != nil {
			return err
		}
		if idx < 0 || idx >= int64(len(n.branches)) {
			d.i = at
			return d.malformed("union index " + strconv.FormatInt(idx, 10) + " out of range for " + n.name)
		}
		return d.value(n.branches[idx])
	}
	return d.mismatch(d.i, "unsupported schema "+n.name)
}

// integer reads an int or a long, with the range of its logical type.
func (d *binaryDecoder) integer(n *node) *eventError {
	start := d.i
	bits := uint(64)
	if n.kind == idl.Int {
		bits = 32
	}
	v, err := d.varint(bits)
	if err != nil {
		return err
	}
	if n.logical != logicalNone {
		d.scratch = strconv.AppendInt(d.scratch[:0], v, 10)
		if msg := rangeProblem(n, v, d.scratch); msg != "" {
			return d.mismatch(start, msg)
		}
	}
	return nil
}

// str reads a string, a uuid when the logical type says so.
func (d *binaryDecoder) str(n *node) *eventError {
	start := d.i
	s, err := d.text()
	if err != nil {
		return err
	}
	if n.logical == logicalUUID {
		if msg := uuidProblem(s); msg != "" {
			return d.mismatch(start, msg)
		}
	}
	return nil
}

// text reads a string (a length, then UTF-8) and returns its bytes.
func (d *binaryDecoder) text() ([]byte, *eventError) {
	l, err := d.length()
	if err != nil {
		return nil, err
	}
	s := d.b[d.i : d.i+l]
	if !utf8.Valid(s) {
		return nil, d.malformed("invalid UTF-8 in a string")
	}
	d.i += l
	return s, nil
}

// bytesValue reads bytes (a length, then the bytes) or fixed (exactly
// its size), and checks a decimal's size and precision.
func (d *binaryDecoder) bytesValue(n *node) *eventError {
	start := d.i
	l := n.size
	if n.kind == idl.Bytes {
		var err *eventError
		if l, err = d.length(); err != nil {
			return err
		}
	} else if d.left() < l {
		return d.malformed("unexpected end of the body in fixed " + n.name)
	}
	b := d.b[d.i : d.i+l]
	d.i += l
	if msg := decimalBytesProblem(n, b); msg != "" {
		return d.mismatch(start, msg)
	}
	return nil
}

// blocks reads the blocks of an array or a map: each a count of items
// (negative when followed by the block's size in bytes), then the items;
// a count of zero ends them.
func (d *binaryDecoder) blocks(n *node) *eventError {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	kind := "array"
	if n.kind == idl.Map {
		kind = "map"
	}
	k := 0
	for {
		at := d.i
		count, err := d.varint(64)
		if err != nil {
			return err
		}
		if count == 0 {
			return nil
		}
		if count < 0 {
			if count == math.MinInt64 {
				d.i = at
				return d.malformed("invalid " + kind + " block count")
			}
			count = -count
			size, err := d.varint(64)
			if err != nil {
				return err
			}
			if left := d.left(); size < 0 || size > int64(left) {
				d.i = at
				return d.malformed(kind + " block size " + strconv.FormatInt(size, 10) + " exceeds the " + strconv.Itoa(left) + " bytes left")
			}
		}
		// Each item takes a byte at least, or one of the empty budget.
		if left := d.left(); count > int64(left)+int64(d.empty) {
			d.i = at
			return d.malformed(kind + " block of " + strconv.FormatInt(count, 10) + " items exceeds what the " +
				strconv.Itoa(left) + " bytes left can hold")
		}
		for range count {
			itemAt := d.i
			if n.kind == idl.Map {
				key, err := d.text()
				if err != nil {
					return err
				}
				if err := d.value(n.items); err != nil {
					return err.in("[" + strconv.Quote(string(key)) + "]")
				}
			} else if err := d.value(n.items); err != nil {
				return err.in("[" + strconv.Itoa(k) + "]")
			}
			if d.i == itemAt {
				if d.empty--; d.empty < 0 {
					return d.malformed(kind + " holds more items of zero bytes than the body limit")
				}
			}
			k++
		}
	}
}
