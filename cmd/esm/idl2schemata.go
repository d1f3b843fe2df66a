package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/esm-dev/esm/internal/idl"
)

// idl2schemataCmd is "esm idl2schemata".
func (a *app) idl2schemataCmd() *cobra.Command {
	var importDirs []string
	cmd := &cobra.Command{
		DisableFlagsInUseLine: true,
		Use:                   "idl2schemata [-I DIR]... FILE.avdl OUTDIR",
		Short:                 "Write each named type of an Avro IDL file to OUTDIR/<Name>.avsc",
		Long: `Write each named type (record, error, enum, fixed) of an Avro IDL file, and
of the files it imports, to OUTDIR/<Name>.avsc as a self-contained JSON
schema, as Apache Avro's "avro-tools idl2schemata" does. OUTDIR is created if
needed; existing files of the same name are replaced.

Two types with the same simple name in different namespaces would be
written to the same file; that is an error and nothing is written.`,
		Args: rangeArgs(2, 2, "FILE.avdl OUTDIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, outDir := args[0], args[1]
			res, err := a.loadAndWarn(path, importDirs)
			if err != nil {
				return err
			}
			files, err := schemaFiles(res.Types)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return fmt.Errorf("create output directory: %w", err)
			}
			for _, f := range files {
				data, err := idl.SchemaJSON(f.schema)
				if err != nil {
					return fmt.Errorf("write JSON of %s: %w", f.schema.FullName(), err)
				}
				if err := os.WriteFile(filepath.Join(outDir, f.name), withNewline(data), 0o644); err != nil {
					return fmt.Errorf("write schema %s: %w", f.schema.FullName(), err)
				}
			}
			return nil
		},
	}
	addImportDirFlag(cmd, &importDirs)
	return cmd
}

// schemaFile is one file idl2schemata writes.
type schemaFile struct {
	name   string // base name, <Name>.avsc
	schema *idl.Schema
}

// schemaFiles names the file of each type, checking before anything is
// written that every name is a plain file name and that no two types
// share a file, even on a case-insensitive file system.
func schemaFiles(types []*idl.Schema) ([]schemaFile, error) {
	files := make([]schemaFile, 0, len(types))
	byName := make(map[string]*idl.Schema, len(types))
	for _, t := range types {
		if t.Name == "" || t.Name == "." || t.Name == ".." || strings.ContainsAny(t.Name, `/\`) {
			return nil, fmt.Errorf("type %q: name cannot be used as a file name", t.FullName())
		}
		name := t.Name + ".avsc"
		// Compare case-insensitively: on macOS and Windows Foo.avsc and
		// foo.avsc are the same file.
		key := strings.ToLower(name)
		if prev, ok := byName[key]; ok {
			return nil, fmt.Errorf("types %s and %s would both be written to %s", prev.FullName(), t.FullName(), name)
		}
		byName[key] = t
		files = append(files, schemaFile{name: name, schema: t})
	}
	return files, nil
}
