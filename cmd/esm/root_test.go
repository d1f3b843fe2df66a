package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runESM(t, args...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Empty(t, r.stderr)
			for _, want := range []string{
				"idl          Convert an Avro IDL file to its JSON protocol or schema",
				"idl2schemata Write each named type of an Avro IDL file to OUTDIR/<Name>.avsc",
				"validate     Check schemas, annotations and esm.yaml as plan does, without the store",
				"version      Print the esm version, commit and Go version",
				"completion   Print the shell completion script for bash, zsh, fish or PowerShell",
				"--version   print the version, as \"esm version\" does",
			} {
				assert.Contains(t, r.stdout, want)
			}
		})
	}
}

func TestNewRootCmdWritesHelpToStdout(t *testing.T) {
	var stdout, stderr strings.Builder
	cmd := newRootCmd(&stdout, &stderr)
	cmd.SetArgs([]string{"idl", "--help"})
	require.NoError(t, cmd.Execute())
	assert.Contains(t, stdout.String(), "esm idl [-I DIR]... FILE.avdl [OUTFILE]")
	assert.Contains(t, stdout.String(), "-I, --import-dir DIR")
	assert.Empty(t, stderr.String())
}

// Usage errors exit with status 1, as every other error does (Terraform's
// convention: 2 is kept for "plan --detailed-exitcode" found changes), and
// print "esm: <message>" and a hint to standard error, nothing on standard
// output.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args     []string
		message  string
		helpHint string
	}{
		{nil, "esm: missing command", "Run 'esm --help' for usage."},
		{[]string{"bogus"}, `esm: unknown command "bogus"`, "Run 'esm --help' for usage."},
		{[]string{"vallidate"}, `esm: unknown command "vallidate" (did you mean "validate"?)`, "Run 'esm --help' for usage."},
		{[]string{"--bogus"}, "esm: unknown flag: --bogus", "Run 'esm --help' for usage."},
		{[]string{"idl"}, "esm: idl: missing arguments: want FILE.avdl [OUTFILE]", "Run 'esm idl --help' for usage."},
		{[]string{"idl", "a.avdl", "b.json", "c"}, "esm: idl: too many arguments: want FILE.avdl [OUTFILE], got 3", "Run 'esm idl --help' for usage."},
		{[]string{"idl", "-I"}, "esm: flag needs an argument: 'I' in -I", "Run 'esm idl --help' for usage."},
		{[]string{"idl", "--nope", "a.avdl"}, "esm: unknown flag: --nope", "Run 'esm idl --help' for usage."},
		{[]string{"idl2schemata", "a.avdl"}, "esm: idl2schemata: missing arguments: want FILE.avdl OUTDIR", "Run 'esm idl2schemata --help' for usage."},
		{[]string{"version", "extra"}, "esm: version: accepts no arguments, got 1", "Run 'esm version --help' for usage."},
		{[]string{"validate", "--nope"}, "esm: unknown flag: --nope", "Run 'esm validate --help' for usage."},
		{[]string{"completion"}, "esm: completion: missing arguments: want SHELL (bash, zsh, fish or powershell)", "Run 'esm completion --help' for usage."},
		{[]string{"completion", "tcsh"}, `esm: completion: unknown shell "tcsh": want bash, zsh, fish or powershell`, "Run 'esm completion --help' for usage."},
		{[]string{"completion", "bash", "zsh"}, "esm: completion: too many arguments: want SHELL (bash, zsh, fish or powershell), got 2", "Run 'esm completion --help' for usage."},
		{[]string{"--version", "extra"}, `esm: unknown command "extra"`, "Run 'esm --help' for usage."},
		{[]string{"plan", "--version"}, "esm: unknown flag: --version", "Run 'esm plan --help' for usage."},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runESM(t, tt.args...)
			assert.Equal(t, exitFailure, r.code)
			assert.Empty(t, r.stdout)
			assert.Equal(t, tt.message+"\n"+tt.helpHint+"\n", r.stderr)
		})
	}
}

// A failure that is not a diagnostic prints one line "esm: <message>" and
// exits with status 1.
func TestIDLMissingFile(t *testing.T) {
	r := runESM(t, "idl", "does-not-exist.avdl")
	assert.Equal(t, exitFailure, r.code)
	assert.Empty(t, r.stdout)
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	assert.True(t, strings.HasPrefix(r.stderr, "esm: "), "stderr: %q", r.stderr)
	assert.Contains(t, r.stderr, "does-not-exist.avdl")
}

// The exit status follows Terraform's: 0 success, 1 any error, usage
// errors included, 2 only when "plan --detailed-exitcode" found changes.
// CI reads 2 as "there are changes", so no usage error may exit with it,
// with or without --detailed-exitcode.
func TestExitStatus(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	state := []string{"--state-dir", w.stateDir}
	applied := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	require.Equal(t, exitOK, applied.esm("apply").code)

	usage := []struct {
		name string
		args []string
	}{
		{"plan: unknown flag", append([]string{"plan", "--env", "prod", "--bogus", w.schemas}, state...)},
		{"apply: unknown flag", append([]string{"apply", "--env", "prod", "--bogus", w.schemas}, state...)},
		{"validate: unknown flag", []string{"validate", "--bogus", w.schemas}},
		{"root: unknown flag", []string{"--bogus"}},
		{"plan: missing --env", append([]string{"plan", w.schemas}, state...)},
		{"apply: missing --env", append([]string{"apply", "--yes", w.schemas}, state...)},
		{"plan: --env without a value", []string{"plan", "--env"}},
		{"plan: bad --output", append([]string{"plan", "--env", "prod", "--output", "yaml", w.schemas}, state...)},
		{"plan: bad --detailed-exitcode value", append([]string{"plan", "--env", "prod", "--detailed-exitcode=maybe", w.schemas}, state...)},
		{"version: extra argument", []string{"version", "extra"}},
		{"serve: extra argument", []string{"serve", "extra"}},
		{"root: unknown command", []string{"bogus"}},
		{"idl: too many arguments", []string{"idl", "a.avdl", "b.json", "c"}},
	}
	for _, tt := range usage {
		for _, detailed := range []bool{false, true} {
			args := tt.args
			name := tt.name
			if detailed {
				// After the command name, so that no flag takes it as
				// its value.
				args = slices.Insert(slices.Clone(args), 1, "--detailed-exitcode")
				name += " --detailed-exitcode"
			}
			t.Run(name, func(t *testing.T) {
				r := runESM(t, args...)
				assert.Equal(t, exitFailure, r.code, "stderr: %s", r.stderr)
				assert.Empty(t, r.stdout)
				assert.Regexp(t, `^esm: .*\nRun 'esm( \w+)? --help' for usage\.\n$`, r.stderr, "the usage hint goes to standard error")
			})
		}
	}
	assert.NoFileExists(t, w.statePath(), "no usage error touches the store")

	outcomes := []struct {
		name string
		w    *workspace
		args []string
		code int
	}{
		{"changes", w, []string{"--detailed-exitcode"}, exitChanges},
		{"changes as JSON", w, []string{"--detailed-exitcode", "-o", "json"}, exitChanges},
		{"changes without --detailed-exitcode", w, nil, exitOK},
		{"no changes", applied, []string{"--detailed-exitcode"}, exitOK},
		{"no changes without --detailed-exitcode", applied, nil, exitOK},
	}
	for _, tt := range outcomes {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.w.esm("plan", tt.args...)
			assert.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
		})
	}
	assert.NoFileExists(t, w.statePath(), "plan changes nothing")
}

// esm --version prints what esm version prints.
func TestVersionFlag(t *testing.T) {
	want := runESM(t, "version")
	require.Equal(t, exitOK, want.code)
	r := runESM(t, "--version")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr)
	assert.Equal(t, want.stdout, r.stdout)
	assert.True(t, strings.HasPrefix(r.stdout, "esm "), r.stdout)
}

// esm completion SHELL prints cobra's script for the shell, which asks
// esm's hidden __complete command for the candidates; a shell that is
// installed checks the script's syntax.
func TestCompletionScripts(t *testing.T) {
	tests := []struct {
		shell  string
		marks  []string // what the script must mention
		syntax []string // a command that checks the syntax of the file appended, when installed
	}{
		{"bash", []string{"# bash completion V2 for esm", "complete -o default -F __start_esm esm", "__complete"}, []string{"bash", "-n"}},
		{"zsh", []string{"#compdef esm", "compdef _esm esm", "__complete"}, []string{"zsh", "-n"}},
		{"fish", []string{"complete -c esm", "__complete"}, []string{"fish", "--no-execute"}},
		{"powershell", []string{"Register-ArgumentCompleter", "-CommandName 'esm'", "__complete"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			r := runESM(t, "completion", tt.shell)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Empty(t, r.stderr)
			for _, m := range tt.marks {
				assert.Contains(t, r.stdout, m)
			}
			if tt.syntax == nil {
				return
			}
			shell, err := exec.LookPath(tt.syntax[0])
			if err != nil {
				t.Logf("%s is not installed: the syntax is not checked", tt.syntax[0])
				return
			}
			file := filepath.Join(t.TempDir(), "esm."+tt.shell)
			require.NoError(t, os.WriteFile(file, []byte(r.stdout), 0o644))
			out, err := exec.Command(shell, append(tt.syntax[1:], file)...).CombinedOutput()
			assert.NoError(t, err, "%s: %s", strings.Join(tt.syntax, " "), out)
		})
	}
}

// The scripts complete from what esm's hidden __complete command answers:
// the commands, each command's flags, and completion's shells.
func TestCompletionCandidates(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // lines of the answer start with these candidates
	}{
		{"commands", []string{""}, []string{"adopt", "apply", "completion", "idl", "idl2schemata", "plan", "serve", "validate", "version"}},
		{"plan's flags", []string{"plan", "--"}, []string{"--env", "--config", "--import-dir", "--state-dir", "--output", "--detailed-exitcode"}},
		{"validate's flags", []string{"validate", "--"}, []string{"--env", "--config", "--import-dir"}},
		{"apply's flags", []string{"apply", "--"}, []string{"--env", "--import-dir", "--yes"}},
		{"adopt's flags", []string{"adopt", "--"}, []string{"--env", "--config", "--import-dir", "--target", "--state-dir", "--yes"}},
		{"shells", []string{"completion", ""}, []string{"bash", "zsh", "fish", "powershell"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runESM(t, append([]string{"__complete"}, tt.args...)...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			var got []string
			for _, line := range strings.Split(r.stdout, "\n") {
				if c, _, _ := strings.Cut(line, "\t"); c != "" && !strings.HasPrefix(c, ":") {
					got = append(got, c)
				}
			}
			for _, w := range tt.want {
				assert.Contains(t, got, w)
			}
		})
	}
}
