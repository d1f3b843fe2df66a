package collector

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateEveryType(t *testing.T) {
	reg, _ := testRegistry(t)
	typ := reg.current().byName["Everything"]
	require.NotNil(t, typ)

	tests := []struct {
		name   string
		field  string
		raw    string // "" removes the field
		reason Reason // "" when valid
		path   string
		msg    string // a substring of the message
	}{
		// Valid values, in every form the encoding allows.
		{name: "base", field: "flag", raw: "true"},
		{name: "boolean false", field: "flag", raw: "false"},
		{name: "int bounds", field: "small", raw: "-2147483648"},
		{name: "long max", field: "big", raw: "9223372036854775807"},
		{name: "long min", field: "big", raw: "-9223372036854775808"},
		{name: "float exponent", field: "ratio", raw: "3.4e38"},
		{name: "float NaN", field: "ratio", raw: `"NaN"`},
		{name: "double -Infinity", field: "precise", raw: `"-Infinity"`},
		{name: "double integer", field: "precise", raw: "3"},
		{name: "bytes raw latin-1", field: "raw", raw: `"ÿ\u0001"`},
		{name: "bytes empty", field: "raw", raw: `""`},
		{name: "string escapes", field: "text", raw: `"a\tb\n\\\/"`},
		{name: "fixed escapes", field: "hash", raw: `"\u0000\u0001\u00fe\u00ff"`},
		{name: "enum", field: "color", raw: `"BLUE"`},
		{name: "record default left out", field: "inner", raw: `{"name": "x"}`},
		{name: "array empty", field: "items", raw: `[]`},
		{name: "map empty", field: "counts", raw: `{}`},
		{name: "map escaped key", field: "counts", raw: `{"\u00e9": 1}`},
		{name: "union natural string", field: "note", raw: `"hi"`},
		{name: "union wrapped string", field: "note", raw: `{"string": "hi"}`},
		{name: "union wrapped null", field: "note", raw: `null`},
		{name: "union default left out", field: "note", raw: ""},
		{name: "union int", field: "multi", raw: `7`},
		{name: "union string", field: "multi", raw: `"seven"`},
		{name: "union record natural", field: "multi", raw: `{"name": "n"}`},
		{name: "union record wrapped full name", field: "multi", raw: `{"test.types.Inner": {"name": "n"}}`},
		{name: "union record wrapped simple name", field: "multi", raw: `{"Inner": {"name": "n", "n": 2}}`},
		{name: "union int wrapped", field: "multi", raw: `{"int": 1}`},
		{name: "date", field: "day", raw: `-719162`},
		{name: "time-millis last", field: "tod", raw: `86399999`},
		{name: "time-micros zero", field: "tod_us", raw: `0`},
		{name: "timestamp-millis year 9999", field: "ts", raw: `253402300799999`},
		{name: "timestamp-micros negative", field: "ts_us", raw: `-1000`},
		{name: "uuid upper case", field: "id", raw: `"123E4567-E89B-12D3-A456-426614174000"`},
		{name: "decimal number", field: "price", raw: `123.45`},
		{name: "decimal negative text", field: "price", raw: `"-0.5"`},
		{name: "decimal leading zeros", field: "price", raw: `"000123.4"`},
		{name: "decimal bytes", field: "price", raw: `"\u0000\u0030\u0039"`},
		{name: "decimal bytes negative", field: "price", raw: `"\u00fe\u0079\u0061"`},
		{name: "decimal fixed bytes", field: "cost", raw: `"\u0000\u0001\u0002"`},
		{name: "decimal fixed text", field: "cost", raw: `"-9999.99"`},

		// Mismatches.
		{name: "null", field: "nothing", raw: `0`, reason: ReasonSchema, path: "nothing", msg: "expected null, got number"},
		{name: "boolean", field: "flag", raw: `"true"`, reason: ReasonSchema, path: "flag", msg: "expected boolean, got string"},
		{name: "int range", field: "small", raw: `2147483648`, reason: ReasonSchema, path: "small", msg: "out of range for int"},
		{name: "int fraction", field: "small", raw: `1.5`, reason: ReasonSchema, path: "small", msg: "fraction or exponent"},
		{name: "int string", field: "small", raw: `"1"`, reason: ReasonSchema, path: "small", msg: "expected int, got string"},
		{name: "long range", field: "big", raw: `9223372036854775808`, reason: ReasonSchema, path: "big", msg: "out of range for long"},
		{name: "long null", field: "big", raw: `null`, reason: ReasonSchema, path: "big", msg: "expected long, got null"},
		{name: "float range", field: "ratio", raw: `1e39`, reason: ReasonSchema, path: "ratio", msg: "out of range for float"},
		{name: "float string", field: "ratio", raw: `"1.5"`, reason: ReasonSchema, path: "ratio", msg: "expected float, got string"},
		{name: "double boolean", field: "precise", raw: `true`, reason: ReasonSchema, path: "precise", msg: "expected double, got boolean"},
		{name: "double range", field: "precise", raw: `1e400`, reason: ReasonSchema, path: "precise", msg: "out of range for double"},
		{name: "bytes code point", field: "raw", raw: `"\u0100"`, reason: ReasonSchema, path: "raw", msg: "U+100"},
		{name: "bytes utf-8 code point", field: "raw", raw: `"€"`, reason: ReasonSchema, path: "raw", msg: "U+20AC"},
		{name: "bytes number", field: "raw", raw: `5`, reason: ReasonSchema, path: "raw", msg: "expected bytes, got number"},
		{name: "string number", field: "text", raw: `5`, reason: ReasonSchema, path: "text", msg: "expected string, got number"},
		{name: "enum symbol", field: "color", raw: `"PURPLE"`, reason: ReasonSchema, path: "color", msg: `"PURPLE" is not a symbol of enum test.types.Color`},
		{name: "enum number", field: "color", raw: `1`, reason: ReasonSchema, path: "color", msg: "expected test.types.Color, got number"},
		{name: "fixed short", field: "hash", raw: `"abc"`, reason: ReasonSchema, path: "hash", msg: "expected 4 bytes for fixed test.types.Hash, got 3"},
		{name: "record missing field", field: "inner", raw: `{"n": 1}`, reason: ReasonSchema, path: "inner.name", msg: "missing required field"},
		{name: "record unknown field", field: "inner", raw: `{"name": "a", "extra": 1}`, reason: ReasonSchema, path: "inner.extra", msg: "unknown field of test.types.Inner"},
		{name: "record twice", field: "inner", raw: `{"name": "a", "name": "b"}`, reason: ReasonSchema, path: "inner.name", msg: "field given twice"},
		{name: "record string", field: "inner", raw: `"x"`, reason: ReasonSchema, path: "inner", msg: "expected test.types.Inner, got string"},
		{name: "array item field", field: "items", raw: `[{"name": "a"}, {"name": 1}]`, reason: ReasonSchema, path: "items[1].name", msg: "expected string, got number"},
		{name: "array object", field: "items", raw: `{}`, reason: ReasonSchema, path: "items", msg: "expected array, got object"},
		{name: "map value", field: "counts", raw: `{"a": "x"}`, reason: ReasonSchema, path: `counts["a"]`, msg: "expected long, got string"},
		{name: "union no branch", field: "note", raw: `5`, reason: ReasonSchema, path: "note", msg: "expected union [null, string], got number"},
		{name: "union object", field: "note", raw: `{"int": 5}`, reason: ReasonSchema, path: "note", msg: "got object"},
		{name: "union wrapped bad value", field: "multi", raw: `{"string": 5}`, reason: ReasonSchema, path: "multi", msg: "expected string, got number"},
		{name: "union record branch error", field: "multi", raw: `{"name": "n", "n": "x"}`, reason: ReasonSchema, path: "multi.n", msg: "expected int, got string"},
		{name: "union boolean", field: "multi", raw: `true`, reason: ReasonSchema, path: "multi", msg: "got boolean"},
		{name: "date range", field: "day", raw: `2932897`, reason: ReasonSchema, path: "day", msg: "out of range for date"},
		{name: "time-millis day", field: "tod", raw: `86400000`, reason: ReasonSchema, path: "tod", msg: "out of range for time-millis"},
		{name: "time-millis negative", field: "tod", raw: `-1`, reason: ReasonSchema, path: "tod", msg: "out of range for time-millis"},
		{name: "time-micros day", field: "tod_us", raw: `86400000000`, reason: ReasonSchema, path: "tod_us", msg: "time-micros"},
		{name: "timestamp-millis year 10000", field: "ts", raw: `253402300800000`, reason: ReasonSchema, path: "ts", msg: "timestamp-millis"},
		{name: "timestamp-millis string", field: "ts", raw: `"2024-01-01T00:00:00Z"`, reason: ReasonSchema, path: "ts", msg: "expected long, got string"},
		{name: "timestamp-micros range", field: "ts_us", raw: `253402300800000000`, reason: ReasonSchema, path: "ts_us", msg: "timestamp-micros"},
		{name: "uuid", field: "id", raw: `"123e4567e89b12d3a456426614174000"`, reason: ReasonSchema, path: "id", msg: "expected a uuid"},
		{name: "decimal integer digits", field: "price", raw: `"1234.5"`, reason: ReasonSchema, path: "price", msg: "does not fit decimal(5,2)"},
		{name: "decimal scale", field: "price", raw: `1.234`, reason: ReasonSchema, path: "price", msg: "does not fit decimal(5,2)"},
		{name: "decimal exponent", field: "price", raw: `1e2`, reason: ReasonSchema, path: "price", msg: "digits with an optional fraction"},
		{name: "decimal bytes too long", field: "price", raw: `"abcd"`, reason: ReasonSchema, path: "price", msg: "at most 3 bytes"},
		{name: "decimal fixed size", field: "cost", raw: `"ab"`, reason: ReasonSchema, path: "cost", msg: "expected 3 bytes"},
		{name: "decimal bytes digits", field: "price", raw: `"\u0001\u00e2\u0040"`, reason: ReasonSchema, path: "price", msg: `value "1234.56" does not fit decimal(5,2)`},
		{name: "decimal bytes negative digits", field: "price", raw: `"\u00fe\u001d\u00c0"`, reason: ReasonSchema, path: "price", msg: `value "-1234.56" does not fit decimal(5,2)`},
		{name: "decimal fixed bytes digits", field: "cost", raw: `"\u0010\u0000\u0000"`, reason: ReasonSchema, path: "cost", msg: `value "10485.76" does not fit decimal(6,2)`},
		{name: "decimal fixed digits", field: "cost", raw: `"12345.6"`, reason: ReasonSchema, path: "cost", msg: "does not fit decimal(6,2)"},
		{name: "missing required", field: "small", raw: "", reason: ReasonSchema, path: "small", msg: "missing required field of test.types.Everything"},
		{name: "unknown top-level field", field: "surprise", raw: "1", reason: ReasonSchema, path: "surprise", msg: "unknown field"},
	}
	var d decoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := object(with(everything, tt.field, tt.raw))
			err := d.validate(typ.node, []byte(body))
			if tt.reason == "" {
				require.Nil(t, err, "body %s", body)
				return
			}
			require.NotNil(t, err, "body %s", body)
			assert.Equal(t, tt.reason, err.reason)
			assert.Equal(t, tt.path, err.path())
			assert.Contains(t, err.msg, tt.msg)
		})
	}
}

func TestValidateMalformed(t *testing.T) {
	reg, _ := testRegistry(t)
	inner := reg.current().byName["Inner"].node
	tests := []struct {
		name, body, msg string
	}{
		{"empty", ``, "empty event"},
		{"blank", "  \n", "empty event"},
		{"truncated", `{"name": "a"`, "unexpected end of input"},
		{"missing colon", `{"name" "a"}`, "':' expected"},
		{"trailing comma", `{"name": "a",}`, "string expected"},
		{"trailing data", `{"name": "a"} {}`, "unexpected data after the event"},
		{"bad literal", `{"name": "a", "n": nul}`, "invalid literal"},
		{"bad number", `{"name": "a", "n": -}`, "invalid number"},
		{"leading zero", `{"name": "a", "n": 01}`, "',' or '}' expected"},
		{"bad escape", `{"name": "\x"}`, "invalid escape"},
		{"short unicode escape", `{"name": "\u12"}`, `invalid \u escape`},
		{"control character", "{\"name\": \"a\tb\"}", "control character"},
		{"invalid utf-8", "{\"name\": \"\xff\"}", "invalid UTF-8"},
		{"unterminated string", `{"name": "abc`, "unterminated string"},
	}
	var d decoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.validate(inner, []byte(tt.body))
			require.NotNil(t, err)
			assert.Equal(t, ReasonMalformed, err.reason)
			assert.Contains(t, err.msg, tt.msg)
		})
	}
}

func TestValidateRecursionDepth(t *testing.T) {
	reg, _ := testRegistry(t)
	n := reg.current().byName["Node"].node
	nest := func(levels int) string {
		return strings.Repeat(`{"value": "v", "next": `, levels) + "null" + strings.Repeat("}", levels)
	}
	var d decoder
	require.Nil(t, d.validate(n, []byte(nest(10))))
	err := d.validate(n, []byte(nest(100)))
	require.NotNil(t, err)
	assert.Equal(t, ReasonSchema, err.reason)
	assert.Contains(t, err.msg, "nested more than 64 levels deep")
	assert.True(t, strings.HasPrefix(err.path(), "next.next."), err.path())
}

func TestTruncateText(t *testing.T) {
	short := "just fine"
	assert.Equal(t, short, TruncateText(short, MaxEventText))
	long := strings.Repeat("é", 5000)
	cut := TruncateText(long, MaxEventText)
	assert.Equal(t, MaxEventText, len([]rune(cut)))
	assert.True(t, strings.HasSuffix(cut, "(truncated)"))
}
