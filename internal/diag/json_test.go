package diag

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestJSONError(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"syntax on line 1", `{"a": x}`, "invalid character 'x' looking for beginning of value (line 1, column 7)"},
		{"syntax on line 3", "{\n  \"a\": 1,\n  ]\n}", "invalid character ']' looking for beginning of object key string (line 3, column 3)"},
		{"type", "{\n  \"a\": \"one\"\n}", "json: cannot unmarshal string into Go struct field .A of type int (line 2, column 12)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v struct{ A int }
			err := JSONError([]byte(tt.data), json.Unmarshal([]byte(tt.data), &v))
			assert.EqualError(t, err, tt.want)
		})
	}
	other := errors.New("not a JSON error")
	assert.Same(t, other, JSONError(nil, other))
}
