package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shopIDL is a small annotated protocol used by the idl tests.
const shopIDL = `/** Test events. */
@namespace("com.example.test")
protocol Shop {
  /** A ping. */
  @alert_channel("team-test")
  @traffic_anomaly_monitor({"deviations": 3})
  record Ping {
    string id;
    int count = 0;
  }

  enum Color { RED, GREEN }

  fixed MD5(16);
}
`

// protocolJSON is the part of a protocol's JSON the tests look at.
type protocolJSON struct {
	Protocol  string           `json:"protocol"`
	Namespace string           `json:"namespace"`
	Types     []map[string]any `json:"types"`
}

func decodeProtocol(t *testing.T, data string) protocolJSON {
	t.Helper()
	var p protocolJSON
	require.NoError(t, json.Unmarshal([]byte(data), &p), "output is not a JSON protocol: %s", data)
	return p
}

func typeNames(p protocolJSON) []string {
	var names []string
	for _, typ := range p.Types {
		name, _ := typ["name"].(string)
		names = append(names, name)
	}
	return names
}

func TestIDLWritesProtocolJSON(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"shop.avdl": shopIDL})
	r := runESM(t, "idl", filepath.Join(dir, "shop.avdl"))
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr)
	assert.True(t, strings.HasSuffix(r.stdout, "}\n"), "output ends with one newline: %q", r.stdout)

	p := decodeProtocol(t, r.stdout)
	assert.Equal(t, "Shop", p.Protocol)
	assert.Equal(t, "com.example.test", p.Namespace)
	assert.Equal(t, []string{"Ping", "Color", "MD5"}, typeNames(p))
	require.NotEmpty(t, p.Types)
	ping := p.Types[0]
	assert.Equal(t, "record", ping["type"])
	assert.Equal(t, "A ping.", ping["doc"])
	assert.Equal(t, "team-test", ping["alert_channel"], "annotations are kept as properties")
	assert.Equal(t, map[string]any{"deviations": float64(3)}, ping["traffic_anomaly_monitor"])
}

func TestIDLWritesOutfile(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"shop.avdl": shopIDL})
	out := filepath.Join(dir, "shop.avpr")
	r := runESM(t, "idl", filepath.Join(dir, "shop.avdl"), out)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stdout, "the JSON goes to OUTFILE only")

	data, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(string(data), "}\n"))
	assert.Equal(t, "Shop", decodeProtocol(t, string(data)).Protocol)

	// "-" is standard output, as for avro-tools.
	r = runESM(t, "idl", filepath.Join(dir, "shop.avdl"), "-")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, string(data), r.stdout)
}

func TestIDLSyntaxError(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"broken.avdl": `protocol Broken {
  record R {
    string id
  }
}
`})
	out := filepath.Join(dir, "broken.avpr")
	r := runESM(t, "idl", filepath.Join(dir, "broken.avdl"), out)
	assert.Equal(t, exitFailure, r.code)
	assert.Empty(t, r.stdout)
	// The missing ';' is reported at the end of line 3 or at the '}' of
	// line 4, as file:line:col: message, without an "esm: " prefix.
	want := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(filepath.Join(dir, "broken.avdl")) + `:[34]:\d+: \S`)
	assert.Regexp(t, want, r.stderr)
	assert.NotContains(t, r.stderr, "esm: ")
	assert.NoFileExists(t, out, "nothing is written on error")
}

func TestIDLImportDir(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"lib/Money.avsc": `{"type": "record", "name": "Money", "namespace": "com.example.lib",
  "fields": [{"name": "cents", "type": "long"}, {"name": "currency", "type": "string"}]}
`,
		"main/order.avdl": `@namespace("com.example.test")
protocol Orders {
  import schema "Money.avsc";

  record Order {
    string id;
    com.example.lib.Money total;
  }
}
`,
	})
	input := filepath.Join(dir, "main", "order.avdl")
	lib := filepath.Join(dir, "lib")
	empty := t.TempDir()

	tests := []struct {
		name string
		args []string
	}{
		{"short flag", []string{"idl", "-I", lib, input}},
		{"long flag", []string{"idl", "--import-dir", lib, input}},
		{"flag after the file", []string{"idl", input, "-I", lib}},
		{"repeated, searched in order", []string{"idl", "-I", empty, "-I", lib, input}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runESM(t, tt.args...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			p := decodeProtocol(t, r.stdout)
			assert.Equal(t, "Orders", p.Protocol)
			assert.Equal(t, []string{"Money", "Order"}, typeNames(p))
		})
	}

	t.Run("not found without -I", func(t *testing.T) {
		r := runESM(t, "idl", input)
		assert.Equal(t, exitFailure, r.code)
		assert.Empty(t, r.stdout)
		assert.Contains(t, r.stderr, "Money.avsc")
		assert.Regexp(t, regexp.MustCompile(regexp.QuoteMeta(input)+`:3:\d+: `), r.stderr, "the import is located")
	})
}
