package idl

import (
	"unicode"
	"unicode/utf8"

	"github.com/esm-dev/esm/internal/diag"
)

// token is the kind of a lexical token.
type token uint8

const (
	tEOF token = iota
	tIllegal
	tIdent  // identifier or keyword; see keyword
	tString // "..."
	tInt    // integer literal
	tFloat  // floating-point literal, NaN and Infinity included
	tLParen
	tRParen
	tLBrace
	tRBrace
	tLBracket
	tRBracket
	tColon
	tSemicolon
	tComma
	tAt
	tEquals
	tQuestion
	tLT
	tGT
)

var tokenNames = [...]string{
	tEOF: "end of file", tIllegal: "illegal character", tIdent: "identifier", tString: "string",
	tInt: "integer", tFloat: "number", tLParen: "'('", tRParen: "')'", tLBrace: "'{'", tRBrace: "'}'",
	tLBracket: "'['", tRBracket: "']'", tColon: "':'", tSemicolon: "';'", tComma: "','", tAt: "'@'",
	tEquals: "'='", tQuestion: "'?'", tLT: "'<'", tGT: "'>'",
}

func (t token) String() string { return tokenNames[t] }

// keyword identifies the reserved words of the grammar. An identifier
// token whose text is exactly a keyword is that keyword; a backticked or
// dotted word never is.
type keyword uint8

const (
	kwNone keyword = iota
	kwProtocol
	kwNamespace
	kwImport
	kwIDL
	kwSchema
	kwEnum
	kwFixed
	kwError
	kwRecord
	kwArray
	kwMap
	kwUnion
	kwBoolean
	kwInt
	kwLong
	kwFloat
	kwDouble
	kwString
	kwBytes
	kwNull
	kwTrue
	kwFalse
	kwDecimal
	kwDate
	kwTimeMs
	kwTimestampMs
	kwLocalTimestampMs
	kwUUID
	kwVoid
	kwOneway
	kwThrows
)

func lookupKeyword(s string) keyword {
	switch s {
	case "protocol":
		return kwProtocol
	case "namespace":
		return kwNamespace
	case "import":
		return kwImport
	case "idl":
		return kwIDL
	case "schema":
		return kwSchema
	case "enum":
		return kwEnum
	case "fixed":
		return kwFixed
	case "error":
		return kwError
	case "record":
		return kwRecord
	case "array":
		return kwArray
	case "map":
		return kwMap
	case "union":
		return kwUnion
	case "boolean":
		return kwBoolean
	case "int":
		return kwInt
	case "long":
		return kwLong
	case "float":
		return kwFloat
	case "double":
		return kwDouble
	case "string":
		return kwString
	case "bytes":
		return kwBytes
	case "null":
		return kwNull
	case "true":
		return kwTrue
	case "false":
		return kwFalse
	case "decimal":
		return kwDecimal
	case "date":
		return kwDate
	case "time_ms":
		return kwTimeMs
	case "timestamp_ms":
		return kwTimestampMs
	case "local_timestamp_ms":
		return kwLocalTimestampMs
	case "uuid":
		return kwUUID
	case "void":
		return kwVoid
	case "oneway":
		return kwOneway
	case "throws":
		return kwThrows
	}
	return kwNone
}

// docComment is a /** ... */ comment and the index of the token after it.
type docComment struct {
	start, end int
	before     int // index of the next token
}

// scanner turns IDL source into tokens. Like go/scanner it reports errors
// through a callback and keeps going.
type scanner struct {
	src  string
	file *diag.File
	err  func(start, end int, msg string)

	off   int // reading offset
	index int // index of the next token to return

	docs []docComment
}

func (s *scanner) init(file *diag.File, src string, errh func(start, end int, msg string)) {
	s.src = src
	s.file = file
	s.err = errh
	s.off = 0
	s.index = 0
	s.docs = s.docs[:0]
	// A byte order mark is not part of the text.
	if len(src) >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF {
		s.off = 3
	}
}

// skip passes whitespace and comments, recording line starts and doc
// comments.
func (s *scanner) skip() {
	src := s.src
	for s.off < len(src) {
		c := src[s.off]
		switch c {
		case ' ', '\t', '\r', '\f':
			s.off++
		case '\n':
			s.off++
			s.file.AddLine(s.off)
		case '/':
			if s.off+1 >= len(src) {
				return
			}
			switch src[s.off+1] {
			case '/':
				i := s.off + 2
				for i < len(src) && src[i] != '\n' && src[i] != '\r' {
					i++
				}
				s.off = i
			case '*':
				start := s.off
				i := s.off + 2
				for {
					if i+1 >= len(src) {
						s.markLines(start, len(src))
						s.err(start, start+2, "comment not terminated")
						s.off = len(src)
						return
					}
					if src[i] == '*' && src[i+1] == '/' {
						break
					}
					i++
				}
				end := i + 2
				s.markLines(start, end)
				// "/**/" is an empty comment, "/** ... */" a doc comment.
				if end-start > 4 && src[start+2] == '*' {
					s.docs = append(s.docs, docComment{start: start, end: end, before: s.index + 1})
				}
				s.off = end
			default:
				return
			}
		default:
			return
		}
	}
}

func (s *scanner) markLines(start, end int) {
	for i := start; i < end; i++ {
		if s.src[i] == '\n' {
			s.file.AddLine(i + 1)
		}
	}
}

// next returns the next token with its range. For tIdent, kw is the
// keyword (kwNone for other identifiers).
func (s *scanner) next() (tok token, kw keyword, start, end int) {
	s.skip()
	start = s.off
	s.index++
	if s.off >= len(s.src) {
		return tEOF, kwNone, start, start
	}
	c := s.src[s.off]
	switch c {
	case '(':
		s.off++
		return tLParen, kwNone, start, s.off
	case ')':
		s.off++
		return tRParen, kwNone, start, s.off
	case '{':
		s.off++
		return tLBrace, kwNone, start, s.off
	case '}':
		s.off++
		return tRBrace, kwNone, start, s.off
	case '[':
		s.off++
		return tLBracket, kwNone, start, s.off
	case ']':
		s.off++
		return tRBracket, kwNone, start, s.off
	case ':':
		s.off++
		return tColon, kwNone, start, s.off
	case ';':
		s.off++
		return tSemicolon, kwNone, start, s.off
	case ',':
		s.off++
		return tComma, kwNone, start, s.off
	case '@':
		s.off++
		return tAt, kwNone, start, s.off
	case '=':
		s.off++
		return tEquals, kwNone, start, s.off
	case '?':
		s.off++
		return tQuestion, kwNone, start, s.off
	case '<':
		s.off++
		return tLT, kwNone, start, s.off
	case '>':
		s.off++
		return tGT, kwNone, start, s.off
	case '"':
		s.scanString()
		return tString, kwNone, start, s.off
	case 0x1A:
		// The ASCII substitute character ends the input; what follows it
		// is ignored, as in the reference grammar.
		s.off = len(s.src)
		return tEOF, kwNone, start, start
	case '`':
		return s.scanIdent(start)
	}
	if c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' {
		if tok, ok := s.scanNumber(); ok {
			return tok, kwNone, start, s.off
		}
		s.off = start + 1
		s.err(start, s.off, "unexpected "+quoteChar(c))
		return tIllegal, kwNone, start, s.off
	}
	if c < utf8.RuneSelf {
		if isLetter(rune(c)) {
			// NaN and Infinity are number literals, not identifiers.
			return s.scanIdent(start)
		}
		s.off++
		s.err(start, s.off, "unexpected "+quoteChar(c))
		return tIllegal, kwNone, start, s.off
	}
	r, size := utf8.DecodeRuneInString(s.src[s.off:])
	if isLetter(r) {
		return s.scanIdent(start)
	}
	s.off += size
	if r == utf8.RuneError && size == 1 {
		s.err(start, s.off, "invalid UTF-8 encoding")
	} else {
		s.err(start, s.off, "unexpected character "+string(r))
	}
	return tIllegal, kwNone, start, s.off
}

func quoteChar(c byte) string {
	if c >= 0x20 && c < 0x7F {
		return "'" + string(c) + "'"
	}
	const hex = "0123456789abcdef"
	return "character 0x" + string([]byte{hex[c>>4], hex[c&0xF]})
}

func isLetter(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' ||
		r >= utf8.RuneSelf && unicode.IsLetter(r)
}

func isIdentPart(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r >= '0' && r <= '9' ||
		r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc))
}

// scanPart scans one identifier part at s.off, plain or backticked. It
// reports whether a part was there.
func (s *scanner) scanPart() bool {
	src := s.src
	if s.off < len(src) && src[s.off] == '`' {
		i := s.off + 1
		if !s.identAt(&i) {
			return false
		}
		if i >= len(src) || src[i] != '`' {
			return false
		}
		s.off = i + 1
		return true
	}
	i := s.off
	if !s.identAt(&i) {
		return false
	}
	s.off = i
	return true
}

// identAt scans letter (letter|digit)* at *i.
func (s *scanner) identAt(i *int) bool {
	src := s.src
	j := *i
	if j >= len(src) {
		return false
	}
	if c := src[j]; c < utf8.RuneSelf {
		if !isLetter(rune(c)) {
			return false
		}
		j++
	} else {
		r, size := utf8.DecodeRuneInString(src[j:])
		if !isLetter(r) {
			return false
		}
		j += size
	}
	for j < len(src) {
		c := src[j]
		if c < utf8.RuneSelf {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9') {
				break
			}
			j++
			continue
		}
		r, size := utf8.DecodeRuneInString(src[j:])
		if !isIdentPart(r) {
			break
		}
		j += size
	}
	*i = j
	return true
}

func (s *scanner) scanIdent(start int) (token, keyword, int, int) {
	if !s.scanPart() {
		s.off = start + 1
		s.err(start, s.off, "unterminated or empty backtick identifier")
		return tIllegal, kwNone, start, s.off
	}
	simple := s.src[start] != '`'
	for s.off+1 < len(s.src) && (s.src[s.off] == '.' || s.src[s.off] == '-') {
		save := s.off
		s.off++
		if !s.scanPart() {
			s.off = save
			break
		}
		simple = false
	}
	text := s.src[start:s.off]
	if simple {
		if text == "NaN" || text == "Infinity" {
			return tFloat, kwNone, start, s.off
		}
		return tIdent, lookupKeyword(text), start, s.off
	}
	return tIdent, kwNone, start, s.off
}

// scanString scans a Java-style string literal; the parser unescapes it.
func (s *scanner) scanString() {
	start := s.off
	i := s.off + 1
	for i < len(s.src) {
		switch s.src[i] {
		case '"':
			s.off = i + 1
			return
		case '\\':
			i += 2
			continue
		case '\n', '\r':
			s.off = i
			s.err(start, i, "string literal not terminated")
			return
		}
		i++
	}
	s.off = len(s.src)
	s.err(start, start+1, "string literal not terminated")
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isHexDigit(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// scanNumber scans an integer or floating-point literal as the reference
// lexer does: an optional sign ('+' only for floats), decimal, hex or
// octal integers with an optional L suffix, decimal and hex floats with an
// optional f/d suffix, and [+-]NaN / [+-]Infinity.
func (s *scanner) scanNumber() (token, bool) {
	src := s.src
	start := s.off
	i := start
	sign := false
	if src[i] == '-' || src[i] == '+' {
		sign = true
		i++
	}
	if i < len(src) && (src[i] == 'N' || src[i] == 'I') {
		for _, w := range [...]string{"NaN", "Infinity"} {
			if len(src)-i >= len(w) && src[i:i+len(w)] == w {
				j := i + len(w)
				if j < len(src) {
					if r, _ := utf8.DecodeRuneInString(src[j:]); isIdentPart(r) {
						return 0, false
					}
				}
				s.off = j
				return tFloat, true
			}
		}
		return 0, false
	}
	if i >= len(src) {
		return 0, false
	}
	// Hexadecimal.
	if src[i] == '0' && i+1 < len(src) && (src[i+1] == 'x' || src[i+1] == 'X') {
		j := i + 2
		for j < len(src) && isHexDigit(src[j]) {
			j++
		}
		digits := j > i+2
		isFloat := false
		if j < len(src) && src[j] == '.' {
			isFloat = true
			j++
			for j < len(src) && isHexDigit(src[j]) {
				j++
				digits = true
			}
		}
		if !digits {
			return 0, false
		}
		if j < len(src) && (src[j] == 'p' || src[j] == 'P') {
			k := j + 1
			if k < len(src) && (src[k] == '+' || src[k] == '-') {
				k++
			}
			if k < len(src) && isDigit(src[k]) {
				for k < len(src) && isDigit(src[k]) {
					k++
				}
				if k < len(src) && (src[k] == 'f' || src[k] == 'F' || src[k] == 'd' || src[k] == 'D') {
					k++
				}
				s.off = k
				return tFloat, true
			}
		}
		if isFloat {
			return 0, false
		}
		if j < len(src) && (src[j] == 'l' || src[j] == 'L') {
			j++
		}
		if src[start] == '+' {
			return 0, false
		}
		s.off = j
		return tInt, true
	}
	j := i
	for j < len(src) && isDigit(src[j]) {
		j++
	}
	intDigits := j > i
	isFloat := false
	if j < len(src) && src[j] == '.' {
		k := j + 1
		for k < len(src) && isDigit(src[k]) {
			k++
		}
		if intDigits || k > j+1 {
			isFloat = true
			j = k
		}
	}
	if !intDigits && !isFloat {
		return 0, false
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && isDigit(src[k]) {
			for k < len(src) && isDigit(src[k]) {
				k++
			}
			isFloat = true
			j = k
		}
	}
	if j < len(src) && (src[j] == 'f' || src[j] == 'F' || src[j] == 'd' || src[j] == 'D') {
		isFloat = true
		j++
	}
	if isFloat {
		s.off = j
		return tFloat, true
	}
	if j < len(src) && (src[j] == 'l' || src[j] == 'L') {
		j++
	}
	if sign && src[start] == '+' {
		return 0, false
	}
	s.off = j
	return tInt, true
}
