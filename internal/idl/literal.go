package idl

import (
	"strconv"
	"strings"
	"unicode"
)

// parseIntLiteral decodes an integer literal as Java's Long.decode does
// (decimal, 0x hex, 0 octal, optional sign) after dropping an L suffix.
func parseIntLiteral(text string) (n int64, isLong bool, errMsg string) {
	s := text
	if last := s[len(s)-1]; last == 'l' || last == 'L' {
		isLong = true
		s = s[:len(s)-1]
	}
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	u, err := strconv.ParseUint(s, base, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, false, "integer literal " + text + " is out of range for a long"
		}
		return 0, false, "malformed integer literal " + text
	}
	if neg {
		if u > 1<<63 {
			return 0, false, "integer literal " + text + " is out of range for a long"
		}
		return -int64(u), isLong, ""
	}
	if u > 1<<63-1 {
		return 0, false, "integer literal " + text + " is out of range for a long"
	}
	return int64(u), isLong, ""
}

// parseFloatLiteral decodes a floating-point literal as Java's
// Double.parseDouble does: decimal and hex notation, an optional f/d
// suffix, NaN and Infinity with an optional sign.
func parseFloatLiteral(text string) (float64, string) {
	s := text
	// Infinity and NaN end in other letters, and a hex float's exponent is
	// decimal, so a trailing f or d is always the type suffix.
	if last := s[len(s)-1]; last == 'f' || last == 'F' || last == 'd' || last == 'D' {
		s = s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, "" // ±Inf or 0, as Java rounds
		}
		return 0, "malformed number " + text
	}
	return f, ""
}

// stripIndents removes the decoration of a doc comment as the reference
// does: when every line starts with the same one or two stars, those and
// one following space go; otherwise the whitespace that lines 2..n share
// with line 2 goes. text is already trimmed.
func stripIndents(text string) string {
	if strings.IndexAny(text, "\r\n") < 0 {
		if strings.HasPrefix(text, "*") {
			stars := "*"
			if strings.HasPrefix(text, "**") {
				stars = "**"
			}
			return stripStarLine(text, stars)
		}
		return text
	}
	lines := splitLines(text)
	for _, stars := range []string{"**", "*"} {
		if !strings.HasPrefix(lines[0], stars) {
			continue
		}
		ok := true
		for _, ln := range lines[1:] {
			if !strings.HasPrefix(strings.TrimLeftFunc(ln, isHSpace), stars) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		var b strings.Builder
		for i, ln := range lines {
			if i > 0 {
				b.WriteByte('\n')
				ln = strings.TrimLeftFunc(ln, isHSpace)
			}
			b.WriteString(stripStarLine(ln, stars))
		}
		return b.String()
	}
	// Common indentation of lines 2..n: the longest prefix of line 2's
	// leading whitespace that starts every later line.
	indent := lines[1][:len(lines[1])-len(strings.TrimLeftFunc(lines[1], isHSpace))]
	for _, ln := range lines[2:] {
		for !strings.HasPrefix(ln, indent) {
			indent = indent[:len(indent)-1]
		}
	}
	var b strings.Builder
	for i, ln := range lines {
		if i > 0 {
			b.WriteByte('\n')
			ln = ln[len(indent):]
		}
		b.WriteString(ln)
	}
	return b.String()
}

func stripStarLine(ln, stars string) string {
	ln = ln[len(stars):]
	if ln != "" && (ln[0] == ' ' || ln[0] == '\t') {
		ln = ln[1:]
	}
	return ln
}

func isHSpace(r rune) bool { return r == ' ' || r == '\t' || r == 0xA0 || unicode.Is(unicode.Zs, r) }

// splitLines splits on \r\n, \n and \r.
func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			lines = append(lines, s[start:i])
			start = i + 1
		case '\r':
			lines = append(lines, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	return append(lines, s[start:])
}
