package idl

import (
	"strconv"
	"unicode/utf8"

	"github.com/esm-dev/esm/internal/diag"
)

// jsonParser reads standard JSON (RFC 8259) into Values with source
// ranges, so that problems in .avsc and .avpr files are reported at their
// line and column. Integers keep their exact value.
type jsonParser struct {
	src  string
	file *diag.File
	off  int
	err  func(start, end int, msg string)
	fail bool
}

const maxJSONDepth = 512

func (j *jsonParser) errorAt(start, end int, msg string) {
	if !j.fail {
		j.err(start, end, msg)
	}
	j.fail = true
}

func (j *jsonParser) rng(start, end int) diag.Range {
	return diag.Range{File: j.file, Start: start, End: end}
}

func (j *jsonParser) skipSpace() {
	for j.off < len(j.src) {
		switch j.src[j.off] {
		case ' ', '\t', '\r':
			j.off++
		case '\n':
			j.off++
			j.file.AddLine(j.off)
		default:
			return
		}
	}
}

// parseDocument parses one value and requires the end of input after it.
func (j *jsonParser) parseDocument() *Value {
	if len(j.src) >= 3 && j.src[:3] == "\xEF\xBB\xBF" {
		j.off = 3
	}
	v := j.value(0)
	if v == nil {
		return nil
	}
	j.skipSpace()
	if j.off < len(j.src) {
		j.errorAt(j.off, j.off+1, "unexpected "+quoteChar(j.src[j.off])+" after the JSON value")
		return nil
	}
	return v
}

func (j *jsonParser) value(depth int) *Value {
	j.skipSpace()
	if depth > maxJSONDepth {
		j.errorAt(j.off, j.off+1, "JSON nested too deeply")
		return nil
	}
	if j.off >= len(j.src) {
		j.errorAt(j.off, j.off, "unexpected end of file, expected a JSON value")
		return nil
	}
	start := j.off
	c := j.src[j.off]
	switch {
	case c == '{':
		j.off++
		v := &Value{Kind: ObjectValue}
		j.skipSpace()
		if j.off < len(j.src) && j.src[j.off] == '}' {
			j.off++
			v.Range = j.rng(start, j.off)
			return v
		}
		for {
			j.skipSpace()
			if j.off >= len(j.src) || j.src[j.off] != '"' {
				j.expected("a member name in double quotes")
				return nil
			}
			key, ok := j.str()
			if !ok {
				return nil
			}
			j.skipSpace()
			if j.off >= len(j.src) || j.src[j.off] != ':' {
				j.expected("':'")
				return nil
			}
			j.off++
			item := j.value(depth + 1)
			if item == nil {
				return nil
			}
			v.Keys = append(v.Keys, key)
			v.Items = append(v.Items, item)
			j.skipSpace()
			if j.off < len(j.src) && j.src[j.off] == ',' {
				j.off++
				continue
			}
			if j.off < len(j.src) && j.src[j.off] == '}' {
				j.off++
				v.Range = j.rng(start, j.off)
				return v
			}
			j.expected("',' or '}'")
			return nil
		}
	case c == '[':
		j.off++
		v := &Value{Kind: ArrayValue}
		j.skipSpace()
		if j.off < len(j.src) && j.src[j.off] == ']' {
			j.off++
			v.Range = j.rng(start, j.off)
			return v
		}
		for {
			item := j.value(depth + 1)
			if item == nil {
				return nil
			}
			v.Items = append(v.Items, item)
			j.skipSpace()
			if j.off < len(j.src) && j.src[j.off] == ',' {
				j.off++
				continue
			}
			if j.off < len(j.src) && j.src[j.off] == ']' {
				j.off++
				v.Range = j.rng(start, j.off)
				return v
			}
			j.expected("',' or ']'")
			return nil
		}
	case c == '"':
		s, ok := j.str()
		if !ok {
			return nil
		}
		return &Value{Kind: StringValue, Str: s, Range: j.rng(start, j.off)}
	case c == '-' || c >= '0' && c <= '9':
		return j.number()
	default:
		for _, lit := range [...]struct {
			word string
			v    Value
		}{{"true", Value{Kind: BoolValue, Bool: true}}, {"false", Value{Kind: BoolValue}}, {"null", Value{Kind: NullValue}}} {
			if len(j.src)-j.off >= len(lit.word) && j.src[j.off:j.off+len(lit.word)] == lit.word {
				j.off += len(lit.word)
				v := lit.v
				v.Range = j.rng(start, j.off)
				return &v
			}
		}
		j.expected("a JSON value")
		return nil
	}
}

func (j *jsonParser) expected(what string) {
	if j.off >= len(j.src) {
		j.errorAt(j.off, j.off, "unexpected end of file, expected "+what)
		return
	}
	j.errorAt(j.off, j.off+1, "unexpected "+quoteChar(j.src[j.off])+", expected "+what)
}

func (j *jsonParser) number() *Value {
	start := j.off
	i := j.off
	if j.src[i] == '-' {
		i++
	}
	digits := i
	for i < len(j.src) && isDigit(j.src[i]) {
		i++
	}
	if i == digits || (j.src[digits] == '0' && i-digits > 1) {
		j.off = digits
		j.errorAt(start, i, "malformed number")
		return nil
	}
	isFloat := false
	if i < len(j.src) && j.src[i] == '.' {
		i++
		k := i
		for i < len(j.src) && isDigit(j.src[i]) {
			i++
		}
		if i == k {
			j.errorAt(start, i, "malformed number")
			return nil
		}
		isFloat = true
	}
	if i < len(j.src) && (j.src[i] == 'e' || j.src[i] == 'E') {
		i++
		if i < len(j.src) && (j.src[i] == '+' || j.src[i] == '-') {
			i++
		}
		k := i
		for i < len(j.src) && isDigit(j.src[i]) {
			i++
		}
		if i == k {
			j.errorAt(start, i, "malformed number")
			return nil
		}
		isFloat = true
	}
	j.off = i
	text := j.src[start:i]
	if isFloat {
		f, _ := strconv.ParseFloat(text, 64)
		return &Value{Kind: FloatValue, Float: f, Range: j.rng(start, i)}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		// Beyond a long: keep the digits exactly.
		return &Value{Kind: IntValue, Str: text, Long: true, Range: j.rng(start, i)}
	}
	return &Value{Kind: IntValue, Int: n, Long: n != int64(int32(n)), Range: j.rng(start, i)}
}

// str reads a JSON string at j.off.
func (j *jsonParser) str() (string, bool) {
	start := j.off
	i := j.off + 1
	plain := true
	for i < len(j.src) {
		c := j.src[i]
		if c == '"' {
			break
		}
		if c < 0x20 {
			j.errorAt(i, i+1, "control character in string")
			return "", false
		}
		if c == '\\' {
			plain = false
			i += 2
			continue
		}
		i++
	}
	if i >= len(j.src) {
		j.errorAt(start, start+1, "string not terminated")
		return "", false
	}
	j.off = i + 1
	body := j.src[start+1 : i]
	if plain {
		if !utf8.ValidString(body) {
			j.errorAt(start, i+1, "invalid UTF-8 in string")
			return "", false
		}
		return body, true
	}
	s, bad := unescapeJSON(body)
	if bad >= 0 {
		j.errorAt(start+1+bad, start+3+bad, "invalid escape sequence in string")
		return "", false
	}
	return s, true
}

// unescapeJSON decodes JSON escapes, which are Java's minus octal plus \/.
func unescapeJSON(body string) (string, int) {
	var b []byte
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' && i+1 < len(body) && body[i+1] == '/' {
			b = append(b, '/')
			i++
			continue
		}
		if body[i] == '\\' && i+1 < len(body) && body[i+1] >= '0' && body[i+1] <= '7' {
			return "", i
		}
		b = append(b, body[i])
	}
	return unescapeJava(string(b))
}
