package yamlerr

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func decodeErr(src string) error { return decodeAll([]byte(src)) }

// TestLocate: the line is where the document stops being valid, not the
// line before the construct's context that yaml.v3 names.
func TestLocate(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		msg  string
	}{
		{"bad indentation", "defaults:\n  traffic_anomaly_monitor:\n    deviations: 3\n   algorithm: agile\n", 4, "did not find expected key"},
		{"unclosed flow sequence", "defaults:\n  traffic_anomaly_monitor:\n    deviations: 3\n    algorithm: [agile\n    direction: both\n", 4, "did not find expected ',' or ']'"},
		{"unclosed quote", "a: 1\nb:\n  c: \"3\n", 3, "found unexpected end of stream"},
		{"tab", "a: 1\n\tb: 2\n", 2, "found a tab character that violates indentation"},
		{"mapping in a scalar", "a: 1\nb: c: d\ne: 2\n", 2, "mapping values are not allowed in this context"},
		{"second document", "a: 1\n---\nb: 2\n c: 3\n", 4, "mapping values are not allowed in this context"},
		{"no trailing newline", "a: 1\nb: [1, 2", 2, "did not find expected ',' or ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeErr(tt.src)
			require.Error(t, err)
			s, ok := Locate([]byte(tt.src), err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, tt.line, s.Line, "yaml.v3 said %v", err)
			assert.Equal(t, tt.msg, s.Msg)
		})
	}
}

func TestLocateNotASyntaxError(t *testing.T) {
	_, ok := Locate(nil, nil)
	assert.False(t, ok)
	var v struct{ A int }
	err := yaml.Unmarshal([]byte("a: x\n"), &v)
	require.Error(t, err)
	_, ok = Locate([]byte("a: x\n"), err)
	assert.False(t, ok, "a type error is not a syntax error")
	s, ok := Locate(nil, errors.New("yaml: control characters are not allowed"))
	assert.False(t, ok)
	assert.Equal(t, "control characters are not allowed", s.Msg)
}

// FuzzLocate: Locate never panics and names a line of the document.
func FuzzLocate(f *testing.F) {
	f.Add("a: [1\n")
	f.Add("a:\n\tb\n")
	f.Fuzz(func(t *testing.T, src string) {
		err := decodeErr(src)
		if err == nil {
			return
		}
		s, ok := Locate([]byte(src), err)
		if ok && (s.Line < 1 || s.Line > strings.Count(src, "\n")+1) {
			t.Fatalf("line %d outside the document (%d lines): %v", s.Line, strings.Count(src, "\n")+1, err)
		}
	})
}
