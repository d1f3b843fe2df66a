// Package yamlerr locates yaml.v3's syntax errors. yaml.v3 names only a
// line, and for parser errors the line of the construct's context counted
// from 0 — the line before it, and often lines before the problem — so
// "esm.yaml:3" is reported for a bad indentation on line 4. Locate finds
// the line where the document stops being valid YAML instead.
package yamlerr

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxScanBytes bounds the work Locate does: it re-parses prefixes of the
// document, so a large document is scanned from the reported line only
// until this many bytes have been parsed.
const maxScanBytes = 32 << 20

var lineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Syntax is a YAML syntax error at a line.
type Syntax struct {
	// Line is 1-based; 0 when the error names no line.
	Line int
	// Msg is yaml.v3's message without its "yaml: line N: " prefix.
	Msg string
}

// Locate returns the line of err, a syntax error yaml.v3 returned for src,
// and its message. It is the first line at which the document's prefix
// gives the same error: the line where the document stops being valid.
// ok is false when err is not a syntax error with a line.
func Locate(src []byte, err error) (s Syntax, ok bool) {
	var te *yaml.TypeError
	if err == nil || errors.As(err, &te) {
		return Syntax{}, false
	}
	m := lineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return Syntax{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}, false
	}
	reported, _ := strconv.Atoi(m[1])
	s = Syntax{Line: reported, Msg: m[2]}
	ends := lineEnds(src)
	if reported > len(ends) {
		// A scanner error at the end of the document is counted on the
		// line after its last.
		reported = max(len(ends), 1)
		s.Line = reported
	}
	if reported < 1 {
		reported = 1
	}
	scanned := 0
	for k := reported; k <= len(ends) && scanned < maxScanBytes; k++ {
		prefix := src[:ends[k-1]]
		scanned += len(prefix)
		perr := decodeAll(prefix)
		if perr == nil {
			continue
		}
		if pm := lineRE.FindStringSubmatch(perr.Error()); pm != nil && pm[2] == s.Msg {
			s.Line = k
			return s, true
		}
	}
	// No prefix gives the error (it needs the whole document): the
	// context line yaml.v3 counted from 0 is the next one.
	if s.Line < len(ends) && s.Line == reported {
		s.Line++
	}
	return s, true
}

// lineEnds returns the offset just past each line of src.
func lineEnds(src []byte) []int {
	var ends []int
	for i := 0; i < len(src); {
		j := bytes.IndexByte(src[i:], '\n')
		if j < 0 {
			ends = append(ends, len(src))
			break
		}
		i += j + 1
		ends = append(ends, i)
	}
	return ends
}

// decodeAll parses every document of src, returning the first error.
func decodeAll(src []byte) error {
	d := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		if err := d.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
