package idl

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/hamba/avro/v2"
)

// TestNamedSchemasParseWithHamba checks that every named schema of every
// valid conformance case, written self-contained, is accepted by
// hamba/avro: the collector validates events with these.
func TestNamedSchemasParseWithHamba(t *testing.T) {
	dir, cases := loadCases(t)
	checked := 0
	for _, c := range cases {
		if c.Kind == "error" {
			continue
		}
		res, err := LoadFile(filepath.Join(dir, c.Input), c.options(dir))
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		for _, s := range res.Types {
			js := AppendSchemaJSON(nil, s, JSONOptions{FiniteDefaults: true})
			if _, err := avro.ParseWithCache(string(js), "", &avro.SchemaCache{}); err != nil {
				// The Avro specification allows only ASCII names; the Java
				// reference (and so IDL) allows Unicode letters, which
				// hamba/avro accepts with SkipNameValidation.
				if !hasNonASCII(js) {
					t.Errorf("%s: %s: hamba/avro rejects %s: %v", c.ID, s.FullName(), js, err)
				} else if err := parseSkippingNameValidation(js); err != nil {
					t.Errorf("%s: %s: hamba/avro rejects %s even without name validation: %v", c.ID, s.FullName(), js, err)
				}
			}
			// FiniteDefaults changes nothing but non-finite defaults.
			plain := AppendSchemaJSON(nil, s, JSONOptions{})
			if !bytes.Equal(js, plain) && !bytes.Contains(plain, []byte(`"default":"NaN"`)) &&
				!bytes.Contains(plain, []byte(`Infinity"`)) {
				t.Errorf("%s: %s: FiniteDefaults changed more than non-finite defaults:\n%s\n%s", c.ID, s.FullName(), plain, js)
			}
			checked++
		}
	}
	if checked < 40 {
		t.Fatalf("only %d named schemas checked", checked)
	}
	t.Logf("%d named schemas accepted by hamba/avro", checked)
}

func hasNonASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

func parseSkippingNameValidation(js []byte) error {
	avro.SkipNameValidation = true
	defer func() { avro.SkipNameValidation = false }()
	_, err := avro.ParseWithCache(string(js), "", &avro.SchemaCache{})
	return err
}
