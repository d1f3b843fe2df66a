package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/idl"
)

// Exit statuses of the esm binary, as Terraform's: 0 success, 1 any error,
// and 2 only for "esm plan --detailed-exitcode" with changes (exitChanges),
// so that CI never reads an error as "there are changes".
const (
	exitOK      = 0 // success
	exitFailure = 1 // any error: invalid input, a file that cannot be read or written, a bad command line
)

// loadFunc loads one schema file and everything it imports; idl.LoadFile
// in production, a fake in tests of the commands' own logic.
type loadFunc func(path string, opts idl.Options) (*idl.Result, error)

// app holds what the commands share: where output goes and how schemas
// are loaded.
type app struct {
	stdout, stderr io.Writer
	load           loadFunc
}

// usageError is a command-line mistake: a missing argument, an unknown
// flag or command. run prints it with a pointer to --help and exits with
// status 1, as for any other error.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errReported means the command has already printed why it failed; run
// exits with status 1 without printing anything more.
var errReported = errors.New("failure already reported")

// run executes the esm command line args, writing to stdout and stderr,
// and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return newApp(stdout, stderr).run(args)
}

// newApp returns an app that loads schemas with idl.LoadFile.
func newApp(stdout, stderr io.Writer) *app {
	return &app{stdout: stdout, stderr: stderr, load: idl.LoadFile}
}

// run executes args and maps the outcome to an exit status, printing the
// error: usage errors with a pointer to --help, diagnostics one a line,
// anything else as one line "esm: message".
func (a *app) run(args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	var usage *usageError
	var list diag.List
	var status exitStatus
	switch {
	case errors.As(err, &status): // the command has printed everything
		return int(status)
	case errors.As(err, &usage):
		fmt.Fprintf(a.stderr, "esm: %s\n", usage.msg)
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitFailure
	case errors.Is(err, errReported):
		return exitFailure
	case errors.As(err, &list) && len(list) > 0:
		// Diagnostics name their own file, line and column.
		printDiagnostics(a.stderr, list)
		return exitFailure
	default:
		fmt.Fprintf(a.stderr, "esm: %s\n", oneLine(err.Error()))
		return exitFailure
	}
}

// newRootCmd returns the esm command tree with production dependencies,
// writing to stdout and stderr.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	return newApp(stdout, stderr).rootCmd()
}

// rootCmd builds the command tree on a.
func (a *app) rootCmd() *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "esm",
		Short: "Monitors from annotated Avro IDL schemas",
		Long: `esm reads Avro IDL schemas (.avdl) whose records carry monitor annotations,
such as @alert_channel("team-cart") and @traffic_anomaly_monitor({"deviations": 3}).

Exit status: 0 on success, 1 on any error (an invalid schema, a file that
cannot be read or written, a usage error), 2 only from "esm plan
--detailed-exitcode" when the plan has changes.`,
		SilenceUsage:          true,
		SilenceErrors:         true,
		DisableFlagsInUseLine: true,
		// The root command takes no arguments; an argument that is not a
		// command is a usage error (cobra would otherwise print the help
		// and exit 0).
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				msg := fmt.Sprintf("unknown command %q", args[0])
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					msg += fmt.Sprintf(" (did you mean %q?)", s[0])
				}
				return &usageError{msg: msg}
			}
			return nil
		},
		// Without a command, esm is a usage error too, unless --version
		// asks for the version. RunE also makes the root runnable, so that
		// cobra validates its arguments above.
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				return a.printVersion()
			}
			return usagef("missing command")
		},
	}
	root.Flags().BoolVar(&showVersion, "version", false, `print the version, as "esm version" does`)
	root.SuggestionsMinimumDistance = 2
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{msg: err.Error()}
	})
	// "esm completion" is esm's own (completion.go), with usage errors as
	// every other command's.
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		a.versionCmd(),
		a.completionCmd(),
		a.idlCmd(),
		a.idl2schemataCmd(),
		a.validateCmd(),
		a.serveCmd(),
		a.planCmd(),
		a.applyCmd(),
		a.adoptCmd(),
		a.queryCmd(),
		a.alertmanagerCmd(),
	)
	return root
}

// rangeArgs is cobra.RangeArgs returning a usageError, with the names of
// the expected arguments in the message.
func rangeArgs(minArgs, maxArgs int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case maxArgs == 0 && len(args) > 0:
			return usagef("%s: accepts no arguments, got %d", cmd.Name(), len(args))
		case len(args) < minArgs:
			return usagef("%s: missing arguments: want %s", cmd.Name(), names)
		case len(args) > maxArgs:
			return usagef("%s: too many arguments: want %s, got %d", cmd.Name(), names, len(args))
		}
		return nil
	}
}

// addImportDirFlag adds the repeatable -I/--import-dir flag.
func addImportDirFlag(cmd *cobra.Command, dirs *[]string) {
	cmd.Flags().StringArrayVarP(dirs, "import-dir", "I", nil,
		"search `DIR` for imports not found next to the importing file (repeatable, searched in order)")
}

// printDiagnostics writes one diagnostic per line.
func printDiagnostics(w io.Writer, list diag.List) {
	for _, d := range list {
		fmt.Fprintln(w, d.Error())
	}
}

// withNewline returns b with a newline appended, unless it already ends
// in one.
func withNewline(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		return b
	}
	return append(b, '\n')
}

// oneLine joins a multi-line message so that it prints as one line.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}
