package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/esm-dev/esm/internal/idl"
)

// idlCmd is "esm idl".
func (a *app) idlCmd() *cobra.Command {
	var importDirs []string
	cmd := &cobra.Command{
		DisableFlagsInUseLine: true,
		Use:                   "idl [-I DIR]... FILE.avdl [OUTFILE]",
		Short:                 "Convert an Avro IDL file to its JSON protocol or schema",
		Long: `Convert an Avro IDL file to JSON, as Apache Avro's "avro-tools idl" does:
a protocol file becomes a protocol (.avpr), a schema-mode file its main
schema, or an array of its named schemas when it has no "schema" declaration.

The JSON goes to OUTFILE, or to standard output when OUTFILE is missing or
"-". Warnings go to standard error. On error every problem is printed as
file:line:col: message, and the exit status is 1.`,
		Args: rangeArgs(1, 2, "FILE.avdl [OUTFILE]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := a.loadAndWarn(args[0], importDirs)
			if err != nil {
				return err
			}
			out, err := res.JSON()
			if err != nil {
				return fmt.Errorf("write JSON of %s: %w", args[0], err)
			}
			out = withNewline(out)
			if len(args) == 1 || args[1] == "-" {
				if _, err := a.stdout.Write(out); err != nil {
					return fmt.Errorf("write JSON to standard output: %w", err)
				}
				return nil
			}
			if err := os.WriteFile(args[1], out, 0o644); err != nil {
				return fmt.Errorf("write JSON: %w", err)
			}
			return nil
		},
	}
	addImportDirFlag(cmd, &importDirs)
	return cmd
}

// loadAndWarn loads path with the import search path dirs and prints the
// result's warnings to stderr. The error keeps its diag.List, if any, for
// run to print.
func (a *app) loadAndWarn(path string, dirs []string) (*idl.Result, error) {
	res, err := a.load(path, idl.Options{ImportPaths: dirs})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	printDiagnostics(a.stderr, res.Warnings)
	return res, nil
}
