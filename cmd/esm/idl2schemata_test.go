package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/idl"
)

func TestIDL2SchemataWritesOneFilePerNamedType(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"shop.avdl": shopIDL})
	outDir := filepath.Join(dir, "out", "nested") // created by the command
	r := runESM(t, "idl2schemata", filepath.Join(dir, "shop.avdl"), outDir)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stdout)
	assert.Empty(t, r.stderr)

	entries, err := os.ReadDir(outDir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	assert.Equal(t, []string{"Color.avsc", "MD5.avsc", "Ping.avsc"}, names)

	wantType := map[string]string{"Color": "enum", "MD5": "fixed", "Ping": "record"}
	for name, typ := range wantType {
		data, err := os.ReadFile(filepath.Join(outDir, name+".avsc"))
		require.NoError(t, err)
		assert.True(t, strings.HasSuffix(string(data), "\n"), "%s.avsc ends with a newline", name)
		var schema map[string]any
		require.NoError(t, json.Unmarshal(data, &schema), "%s.avsc: %s", name, data)
		assert.Equal(t, name, schema["name"])
		assert.Equal(t, "com.example.test", schema["namespace"], "%s.avsc is self-contained", name)
		assert.Equal(t, typ, schema["type"])
	}
}

func TestIDL2SchemataSyntaxError(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"broken.avdl": "protocol Broken { record R { int } }\n"})
	outDir := filepath.Join(dir, "out")
	r := runESM(t, "idl2schemata", filepath.Join(dir, "broken.avdl"), outDir)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, filepath.Join(dir, "broken.avdl")+":1:")
	assert.NoDirExists(t, outDir, "nothing is created on error")
}

func TestSchemaFiles(t *testing.T) {
	named := func(ns, name string) *idl.Schema { return &idl.Schema{Kind: idl.Record, Namespace: ns, Name: name} }
	tests := []struct {
		name    string
		types   []*idl.Schema
		want    []string
		wantErr string
	}{
		{"none", nil, []string{}, ""},
		{"distinct names", []*idl.Schema{named("a", "X"), named("b", "Y")}, []string{"X.avsc", "Y.avsc"}, ""},
		{"same simple name", []*idl.Schema{named("a", "X"), named("b", "X")}, nil,
			"types a.X and b.X would both be written to X.avsc"},
		{"names differing in case only", []*idl.Schema{named("a", "Event"), named("a", "EVENT")}, nil,
			"types a.Event and a.EVENT would both be written to EVENT.avsc"},
		{"path separator", []*idl.Schema{named("", "../x")}, nil, `type "../x": name cannot be used as a file name`},
		{"empty name", []*idl.Schema{named("a", "")}, nil, `name cannot be used as a file name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := schemaFiles(tt.types)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			got := []string{}
			for i, f := range files {
				got = append(got, f.name)
				assert.Same(t, tt.types[i], f.schema)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
