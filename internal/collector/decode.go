package collector

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/esm-dev/esm/internal/idl"
)

// maxDepth bounds the nesting of records, arrays, maps and unions in one
// event, so that a recursive schema cannot be made to exhaust the stack.
const maxDepth = 64

// eventError is why an event was rejected: a malformed body (not JSON)
// or a value that does not match the schema, at a field path.
type eventError struct {
	reason Reason
	msg    string
	// off is the byte offset of the fault in the event.
	off int
	// segs are the path segments, innermost first: "sku", "[2]", "items".
	segs []string
}

func (e *eventError) Error() string {
	if p := e.path(); p != "" {
		return p + ": " + e.msg
	}
	return e.msg
}

// path renders the field path at fault, e.g. items[2].sku.
func (e *eventError) path() string {
	var b strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		s := e.segs[i]
		if b.Len() > 0 && s[0] != '[' {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// in adds a path segment on the way out of a field, item or map value.
func (e *eventError) in(seg string) *eventError {
	e.segs = append(e.segs, seg)
	return e
}

// decoder walks one JSON document once, checking it against a compiled
// schema as it reads: no value is built. A decoder is reused across
// events; its scratch space makes the walk allocation-free for valid
// events.
type decoder struct {
	b     []byte
	i     int
	depth int
	// seen holds, for each record being read, a bit per field already
	// read (a stack: each record uses len(node.required) words).
	seen []uint64
	// scratch holds unescaped strings.
	scratch []byte
}

// validate checks that b is exactly one JSON value matching n, with
// nothing but white space around it.
func (d *decoder) validate(n *node, b []byte) *eventError {
	d.b, d.i, d.depth, d.seen = b, 0, 0, d.seen[:0]
	d.ws()
	if d.i >= len(d.b) {
		return d.malformed("empty event")
	}
	if err := d.value(n); err != nil {
		return err
	}
	d.ws()
	if d.i < len(d.b) {
		return d.malformed("unexpected data after the event")
	}
	return nil
}

func (d *decoder) malformed(msg string) *eventError {
	return &eventError{reason: ReasonMalformed, msg: msg, off: d.i}
}

func (d *decoder) mismatch(off int, msg string) *eventError {
	return &eventError{reason: ReasonSchema, msg: msg, off: off}
}

// expected reports a value of the wrong JSON type for n.
// A value that is not even JSON is reported as malformed.
func (d *decoder) expected(n *node) *eventError {
	at := d.i
	if err := d.skip(); err != nil {
		return err
	}
	d.i = at
	return d.mismatch(at, "expected "+n.name+", got "+d.tokenName())
}

// tokenName names the JSON type of the value at the cursor.
func (d *decoder) tokenName() string {
	if d.i >= len(d.b) {
		return "end of input"
	}
	switch c := d.b[d.i]; {
	case c == 'n':
		return "null"
	case c == 't' || c == 'f':
		return "boolean"
	case c == '"':
		return "string"
	case c == '[':
		return "array"
	case c == '{':
		return "object"
	case c == '-' || c >= '0' && c <= '9':
		return "number"
	}
	return "invalid JSON"
}

// ws skips white space.
func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value checks the value at the cursor against n and moves past it.
func (d *decoder) value(n *node) *eventError {
	if d.i >= len(d.b) {
		return d.malformed("unexpected end of input")
	}
	switch n.kind {
	case idl.Null:
		if d.b[d.i] != 'n' {
			return d.expected(n)
		}
		return d.literal("null")
	case idl.Boolean:
		switch d.b[d.i] {
		case 't':
			return d.literal("true")
		case 'f':
			return d.literal("false")
		}
		return d.expected(n)
	case idl.Int, idl.Long:
		return d.integer(n)
	case idl.Float, idl.Double:
		return d.float(n)
	case idl.String:
		return d.str(n)
	case idl.Bytes, idl.Fixed:
		return d.bytesValue(n)
	case idl.Enum:
		return d.enum(n)
	case idl.Record:
		return d.record(n)
	case idl.Array:
		return d.array(n)
	case idl.Map:
		return d.mapValue(n)
	case idl.Union:
		return d.union(n)
	}
	return d.mismatch(d.i, "unsupported schema "+n.name)
}

// literal reads one of null, true and false.
func (d *decoder) literal(lit string) *eventError {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		return d.malformed("invalid literal, expected " + lit)
	}
	d.i += len(lit)
	return nil
}

// enter and leave bound the nesting depth.
func (d *decoder) enter() *eventError {
	d.depth++
	if d.depth > maxDepth {
		return d.mismatch(d.i, "nested more than "+strconv.Itoa(maxDepth)+" levels deep")
	}
	return nil
}

func (d *decoder) leave() { d.depth-- }

// number scans a JSON number and returns its span and whether it is an
// integer (no fraction, no exponent).
func (d *decoder) number() (start, end int, isInt bool, err *eventError) {
	start = d.i
	b := d.b
	i := d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		d.i = i
		return 0, 0, false, d.malformed("invalid number")
	}
	isInt = true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.i = i
			return 0, 0, false, d.malformed("invalid number: digit expected after the decimal point")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.i = i
			return 0, 0, false, d.malformed("invalid number: digit expected in the exponent")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	return start, i, isInt, nil
}

// parseInt parses a JSON integer without allocating; ok is false when it
// does not fit an int64.
func parseInt(b []byte) (v int64, ok bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	var u uint64
	for _, c := range b {
		if u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// integer reads an int or a long, with the range of its logical type.
func (d *decoder) integer(n *node) *eventError {
	c := d.b[d.i]
	if c != '-' && (c < '0' || c > '9') {
		return d.expected(n)
	}
	start, end, isInt, err := d.number()
	if err != nil {
		return err
	}
	if !isInt {
		return d.mismatch(start, "expected "+n.name+", got a number with a fraction or exponent")
	}
	v, ok := parseInt(d.b[start:end])
	if !ok || n.kind == idl.Int && (v < math.MinInt32 || v > math.MaxInt32) {
		return d.mismatch(start, "value "+string(d.b[start:end])+" out of range for "+n.name)
	}
	if msg := rangeProblem(n, v, d.b[start:end]); msg != "" {
		return d.mismatch(start, msg)
	}
	return nil
}

// logicalName names a logical type in messages.
func logicalName(l logical) string {
	switch l {
	case logicalDate:
		return "date"
	case logicalTimeMillis:
		return "time-millis"
	case logicalTimeMicros:
		return "time-micros"
	case logicalTimestampMillis:
		return "timestamp-millis"
	case logicalTimestampMicros:
		return "timestamp-micros"
	case logicalTimestampNanos:
		return "timestamp-nanos"
	case logicalUUID:
		return "uuid"
	case logicalDecimal:
		return "decimal"
	case logicalBigDecimal:
		return "big-decimal"
	}
	return "value"
}

// float reads a float or a double: a JSON number in range, or one of the
// strings "NaN", "Infinity" and "-Infinity" that Avro's JSON encoder
// writes for non-finite values.
func (d *decoder) float(n *node) *eventError {
	c := d.b[d.i]
	if c == '"' {
		start := d.i
		s, err := d.stringBytes()
		if err != nil {
			return err
		}
		switch string(s) {
		case "NaN", "Infinity", "-Infinity":
			return nil
		}
		return d.mismatch(start, "expected "+n.name+", got string")
	}
	if c != '-' && (c < '0' || c > '9') {
		return d.expected(n)
	}
	start, end, _, err := d.number()
	if err != nil {
		return err
	}
	bits := 64
	if n.kind == idl.Float {
		bits = 32
	}
	if _, perr := strconv.ParseFloat(unsafe.String(&d.b[start], end-start), bits); perr != nil {
		return d.mismatch(start, "value "+string(d.b[start:end])+" out of range for "+n.name)
	}
	return nil
}

// stringSpan reads a JSON string at the cursor, checking its escapes and
// UTF-8, and returns the span of its contents and whether it holds
// escapes.
func (d *decoder) stringSpan() (start, end int, escaped bool, err *eventError) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return 0, 0, false, d.malformed("string expected")
	}
	b := d.b
	i := d.i + 1
	start = i
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			d.i = i + 1
			return start, i, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				d.i = i
				return 0, 0, false, d.malformed("unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
					d.i = i
					return 0, 0, false, d.malformed("invalid \\u escape in string")
				}
				i += 6
			default:
				d.i = i
				return 0, 0, false, d.malformed("invalid escape in string")
			}
		case c < 0x20:
			d.i = i
			return 0, 0, false, d.malformed("control character in string")
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				d.i = i
				return 0, 0, false, d.malformed("invalid UTF-8 in string")
			}
			i += size
		}
	}
	d.i = i
	return 0, 0, false, d.malformed("unterminated string")
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if hexVal(c) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

// stringBytes reads a JSON string and returns its unescaped contents,
// valid until the next call (it may live in the scratch space).
func (d *decoder) stringBytes() ([]byte, *eventError) {
	start, end, escaped, err := d.stringSpan()
	if err != nil {
		return nil, err
	}
	return d.unescape(start, end, escaped), nil
}

// codePoints iterates over the code points of the contents of a valid
// JSON string, decoding escapes; the second value is the offset of the
// code point in s.
func codePoints(s []byte) func(yield func(rune, int) bool) {
	return func(yield func(rune, int) bool) {
		for i := 0; i < len(s); {
			at := i
			c := s[i]
			var r rune
			switch {
			case c == '\\':
				switch s[i+1] {
				case 'b':
					r = '\b'
				case 'f':
					r = '\f'
				case 'n':
					r = '\n'
				case 'r':
					r = '\r'
				case 't':
					r = '\t'
				case 'u':
					r = hexVal(s[i+2])<<12 | hexVal(s[i+3])<<8 | hexVal(s[i+4])<<4 | hexVal(s[i+5])
					i += 4
					if r >= 0xD800 && r < 0xDC00 && i+8 <= len(s) && s[i+2] == '\\' && s[i+3] == 'u' {
						lo := hexVal(s[i+4])<<12 | hexVal(s[i+5])<<8 | hexVal(s[i+6])<<4 | hexVal(s[i+7])
						if lo >= 0xDC00 && lo < 0xE000 {
							r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
							i += 6
						}
					}
				default:
					r = rune(s[i+1])
				}
				i += 2
			case c < utf8.RuneSelf:
				r = rune(c)
				i++
			default:
				var size int
				r, size = utf8.DecodeRune(s[i:])
				i += size
			}
			if !yield(r, at) {
				return
			}
		}
	}
}

// str reads a string, a uuid when the logical type says so.
func (d *decoder) str(n *node) *eventError {
	if d.b[d.i] != '"' {
		return d.expected(n)
	}
	if n.logical != logicalUUID {
		_, _, _, err := d.stringSpan()
		return err
	}
	start := d.i
	s, err := d.stringBytes()
	if err != nil {
		return err
	}
	if msg := uuidProblem(s); msg != "" {
		return d.mismatch(start, msg)
	}
	return nil
}

// isUUID reports whether s is a uuid in its 36-character text form.
func isUUID(s []byte) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if hexVal(c) < 0 {
			return false
		}
	}
	return true
}

// quoteShort quotes s for a message, cut to 64 bytes.
func quoteShort(s []byte) string {
	if len(s) > 64 {
		return strconv.Quote(string(s[:64])) + "..."
	}
	return strconv.Quote(string(s))
}

// bytesValue reads bytes or fixed: a JSON string whose code points are
// each 0 to 255, one per byte (Avro's JSON encoding); fixed must have
// exactly its size. A decimal also accepts its decimal text ("12.34") or
// a JSON number, checked against its precision and scale.
func (d *decoder) bytesValue(n *node) *eventError {
	c := d.b[d.i]
	if n.logical == logicalDecimal || n.logical == logicalBigDecimal {
		if c == '-' || c >= '0' && c <= '9' {
			start, end, _, err := d.number()
			if err != nil {
				return err
			}
			return d.decimalText(n, start, d.b[start:end])
		}
	}
	if c != '"' {
		return d.expected(n)
	}
	strStart := d.i
	start, end, escaped, err := d.stringSpan()
	if err != nil {
		return err
	}
	s := d.b[start:end]
	if (n.logical == logicalDecimal || n.logical == logicalBigDecimal) && !escaped && isDecimalText(s) {
		return d.decimalText(n, strStart, s)
	}
	count := 0
	decimal := n.logical == logicalDecimal
	if decimal {
		d.scratch = d.scratch[:0]
	}
	for r, at := range codePoints(s) {
		if r > 0xFF {
			return d.mismatch(start+at, "expected "+n.name+" as a string of code points 0 to 255 (one per byte), got U+"+
				strings.ToUpper(strconv.FormatInt(int64(r), 16)))
		}
		if decimal {
			d.scratch = append(d.scratch, byte(r))
		}
		count++
	}
	if n.kind == idl.Fixed && count != n.size {
		return d.mismatch(strStart, "expected "+strconv.Itoa(n.size)+" bytes for fixed "+n.name+", got "+strconv.Itoa(count))
	}
	if decimal {
		if msg := decimalBytesProblem(n, d.scratch); msg != "" {
			return d.mismatch(strStart, msg)
		}
	}
	return nil
}

// isDecimalText reports whether s is -?digits(.digits)?.
func isDecimalText(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		frac := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			frac++
		}
		if frac == 0 {
			return false
		}
	}
	return i == len(s)
}

// decimalText checks a decimal written as text against precision and
// scale: at most scale digits after the point and precision-scale before
// it (leading zeros aside).
func (d *decoder) decimalText(n *node, off int, s []byte) *eventError {
	if !isDecimalText(s) {
		return d.mismatch(off, "expected "+logicalName(n.logical)+" as digits with an optional fraction, such as 12.34, got "+quoteShort(s))
	}
	if n.logical == logicalBigDecimal {
		return nil
	}
	digits := s
	if digits[0] == '-' {
		digits = digits[1:]
	}
	intPart, frac := digits, []byte(nil)
	for i, c := range digits {
		if c == '.' {
			intPart, frac = digits[:i], digits[i+1:]
			break
		}
	}
	for len(intPart) > 1 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	if len(intPart) == 1 && intPart[0] == '0' {
		intPart = intPart[:0]
	}
	if len(frac) > n.scale || len(intPart) > n.precision-n.scale {
		return d.mismatch(off, "value "+quoteShort(s)+" does not fit "+decimalName(n))
	}
	return nil
}

// enum reads an enum symbol.
func (d *decoder) enum(n *node) *eventError {
	if d.b[d.i] != '"' {
		return d.expected(n)
	}
	start := d.i
	s, err := d.stringBytes()
	if err != nil {
		return err
	}
	if _, ok := n.symbols[string(s)]; !ok {
		return d.mismatch(start, quoteShort(s)+" is not a symbol of enum "+n.name)
	}
	return nil
}

// record reads an object with the record's fields: every field without a
// default, no field twice, no unknown field.
func (d *decoder) record(n *node) *eventError {
	if d.b[d.i] != '{' {
		return d.expected(n)
	}
	base := len(d.seen)
	for range n.required {
		d.seen = append(d.seen, 0)
	}
	err := d.object(func(start, end int, escaped bool) *eventError {
		key := d.unescape(start, end, escaped)
		idx, ok := n.fieldIdx[string(key)]
		if !ok {
			return d.mismatch(start-1, "unknown field of "+n.name).in(string(key))
		}
		f := &n.fields[idx]
		w, bit := base+idx/64, uint64(1)<<(idx%64)
		if d.seen[w]&bit != 0 {
			return d.mismatch(start-1, "field given twice").in(f.name)
		}
		d.seen[w] |= bit
		if err := d.value(f.node); err != nil {
			return err.in(f.name)
		}
		return nil
	})
	if err == nil {
		err = d.missing(n, base)
	}
	d.seen = d.seen[:base]
	return err
}

// object reads the members of the object at the cursor, calling member
// with the span of each key and the cursor on its value; member moves
// past the value.
func (d *decoder) object(member func(start, end int, escaped bool) *eventError) *eventError {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	d.i++
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return nil
	}
	for {
		d.ws()
		start, end, escaped, err := d.stringSpan()
		if err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return d.malformed("':' expected after an object key")
		}
		d.i++
		d.ws()
		if err := member(start, end, escaped); err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) {
			return d.malformed("unexpected end of input in an object")
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.malformed("',' or '}' expected in an object")
		}
	}
}

// unescape returns the contents of the string at start:end, unescaped,
// valid until the next call.
func (d *decoder) unescape(start, end int, escaped bool) []byte {
	if !escaped {
		return d.b[start:end]
	}
	d.scratch = d.scratch[:0]
	for r := range codePoints(d.b[start:end]) {
		d.scratch = utf8.AppendRune(d.scratch, r)
	}
	return d.scratch
}

// missing reports the first required field the record did not have.
func (d *decoder) missing(n *node, base int) *eventError {
	for w, req := range n.required {
		if m := req &^ d.seen[base+w]; m != 0 {
			for i := w * 64; i < len(n.fields); i++ {
				if m&(1<<(i%64)) != 0 {
					return d.mismatch(d.i-1, "missing required field of "+n.name).in(n.fields[i].name)
				}
			}
		}
	}
	return nil
}

// array reads an array of items.
func (d *decoder) array(n *node) *eventError {
	if d.b[d.i] != '[' {
		return d.expected(n)
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	d.i++
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return nil
	}
	for k := 0; ; k++ {
		d.ws()
		if err := d.value(n.items); err != nil {
			return err.in("[" + strconv.Itoa(k) + "]")
		}
		d.ws()
		if d.i >= len(d.b) {
			return d.malformed("unexpected end of input in an array")
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.malformed("',' or ']' expected in an array")
		}
	}
}

// mapValue reads an object of values.
func (d *decoder) mapValue(n *node) *eventError {
	if d.b[d.i] != '{' {
		return d.expected(n)
	}
	return d.object(func(start, end int, _ bool) *eventError {
		if err := d.value(n.items); err != nil {
			return err.in("[" + strconv.Quote(string(d.b[start:end])) + "]")
		}
		return nil
	})
}

// jsonKinds says which JSON value types a schema node accepts in its
// natural form, as a bit set of the first byte's class.
func accepts(n *node, c byte) bool {
	switch n.kind {
	case idl.Null:
		return c == 'n'
	case idl.Boolean:
		return c == 't' || c == 'f'
	case idl.Int, idl.Long:
		return c == '-' || c >= '0' && c <= '9'
	case idl.Float, idl.Double:
		return c == '-' || c >= '0' && c <= '9' || c == '"'
	case idl.Bytes, idl.Fixed:
		return c == '"' || (n.logical == logicalDecimal || n.logical == logicalBigDecimal) && (c == '-' || c >= '0' && c <= '9')
	case idl.String, idl.Enum:
		return c == '"'
	case idl.Record, idl.Map:
		return c == '{'
	case idl.Array:
		return c == '['
	}
	return false
}

// union reads a union value in either of two forms:
//
//   - Avro's JSON encoding: null, or an object with a single member whose
//     key names the branch, {"string": "x"} or {"com.example.Foo": {...}}
//     (a named type may also be named by its simple name);
//   - the natural form: null or a value that matches a branch, tried in
//     the order of the union.
//
// An object with one member whose key names a branch is read as the
// wrapped form first; when that fails, as a record or map branch.
func (d *decoder) union(n *node) *eventError {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	start := d.i
	c := d.b[d.i]
	var wrapErr *eventError
	if c == '{' {
		ok, err := d.wrapped(n)
		if ok || err != nil && err.reason == ReasonMalformed {
			return err
		}
		wrapErr = err
		d.i = start
	}
	var best *eventError
	tried := 0
	for _, b := range n.branches {
		if !accepts(b, c) {
			continue
		}
		tried++
		err := d.value(b)
		if err == nil {
			return nil
		}
		if err.reason == ReasonMalformed {
			return err
		}
		if best == nil || err.off > best.off {
			best = err
		}
		d.i = start
	}
	switch {
	case wrapErr != nil:
		return wrapErr
	case tried == 0:
		d.i = start
		return d.expected(n)
	}
	return best
}

// wrapped reads {"<branch name>": value} when the object at the cursor
// has that form. ok is false, with a nil error, when it does not.
func (d *decoder) wrapped(n *node) (ok bool, err *eventError) {
	d.i++
	d.ws()
	keyAt := d.i
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return false, nil
	}
	key, err := d.stringBytes()
	if err != nil {
		return false, err
	}
	b := n.branchName[string(key)]
	if b == nil {
		return false, nil
	}
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != ':' {
		return false, d.malformed("':' expected after an object key")
	}
	d.i++
	d.ws()
	if err := d.value(b); err != nil {
		if err.reason == ReasonMalformed {
			return false, err
		}
		err.off = keyAt
		return false, err
	}
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return true, nil
	}
	return false, nil
}

// skip moves past one JSON value, checking its syntax only.
func (d *decoder) skip() *eventError {
	if d.i >= len(d.b) {
		return d.malformed("unexpected end of input")
	}
	if d.depth > maxDepth {
		return d.malformed("nested more than " + strconv.Itoa(maxDepth) + " levels deep")
	}
	switch c := d.b[d.i]; {
	case c == 'n':
		return d.literal("null")
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == '"':
		_, _, _, err := d.stringSpan()
		return err
	case c == '-' || c >= '0' && c <= '9':
		_, _, _, err := d.number()
		return err
	case c == '[' || c == '{':
		d.depth++
		defer func() { d.depth-- }()
		obj := c == '{'
		closer := byte(']')
		if obj {
			closer = '}'
		}
		d.i++
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == closer {
			d.i++
			return nil
		}
		for {
			d.ws()
			if obj {
				if _, _, _, err := d.stringSpan(); err != nil {
					return err
				}
				d.ws()
				if d.i >= len(d.b) || d.b[d.i] != ':' {
					return d.malformed("':' expected after an object key")
				}
				d.i++
				d.ws()
			}
			if err := d.skip(); err != nil {
				return err
			}
			d.ws()
			if d.i >= len(d.b) {
				return d.malformed("unexpected end of input")
			}
			switch d.b[d.i] {
			case ',':
				d.i++
			case closer:
				d.i++
				return nil
			default:
				return d.malformed("',' or '" + string(closer) + "' expected")
			}
		}
	}
	return d.malformed("invalid JSON value")
}
