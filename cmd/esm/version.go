package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionCmd is "esm version".
func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the esm version, commit and Go version",
		Args:  rangeArgs(0, 0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.printVersion()
		},
	}
}

// printVersion writes the output of "esm version" and "esm --version".
func (a *app) printVersion() error {
	info, _ := debug.ReadBuildInfo()
	_, err := fmt.Fprint(a.stdout, versionText(version, info, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH))
	if err != nil {
		return fmt.Errorf("write version: %w", err)
	}
	return nil
}

// versionText renders the output of "esm version":
//
//	esm v1.2.3
//	commit: 0123456789ab (modified)
//	go: go1.26.8 linux/amd64
//
// v is the version set with -ldflags; when it is the default "dev", the
// module version from the build info (set by "go install module@version")
// is used instead. The commit comes from the build info's vcs settings and
// is "unknown" when the binary was built without them (-buildvcs=false, no
// .git directory). info may be nil.
func versionText(v string, info *debug.BuildInfo, goVersion string) string {
	commit, modified := "unknown", false
	v = moduleVersion(v, info)
	if info != nil {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if len(commit) > 12 && commit != "unknown" {
		commit = commit[:12]
	}
	if modified {
		commit += " (modified)"
	}
	return fmt.Sprintf("esm %s\ncommit: %s\ngo: %s\n", v, commit, goVersion)
}

// moduleVersion returns v, the version set with -ldflags, or, when it is
// the default "dev", the module version from the build info when there
// is one. info may be nil.
func moduleVersion(v string, info *debug.BuildInfo) string {
	if v == "dev" && info != nil && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return v
}

// esmVersion returns the version of the running esm, as "esm version"
// prints it.
func esmVersion() string {
	info, _ := debug.ReadBuildInfo()
	return moduleVersion(version, info)
}
