package main

import (
	"os"
	"path/filepath"

	"github.com/esm-dev/esm/internal/config"
)

// repoRoot is the root of the repository esm runs in: the nearest
// directory, from the working directory up, that holds .git or esm.yaml
// (the working directory itself when none does). What esm finds by
// default lives there — esm.yaml, the schemas directory and the state
// directory — so that esm run from a subdirectory sees the same
// configuration, schemas and state as from the root. Paths the user
// types (PATH arguments, --config, --state-dir, -I) keep their meaning,
// relative to the working directory, as Terraform's do.
type repoRoot struct {
	// dir is the repository root as a path relative to the working
	// directory ("." for the working directory itself), or absolute when
	// the working directory is unknown.
	dir string
}

// findRepoRoot returns the repository root of the working directory.
func findRepoRoot() repoRoot {
	wd, err := os.Getwd()
	if err != nil {
		return repoRoot{dir: "."}
	}
	for d := wd; ; d = filepath.Dir(d) {
		for _, mark := range []string{".git", config.DefaultFile} {
			if _, err := os.Stat(filepath.Join(d, mark)); err == nil {
				rel, err := filepath.Rel(wd, d)
				if err != nil {
					return repoRoot{dir: d}
				}
				return repoRoot{dir: rel}
			}
		}
		if filepath.Dir(d) == d {
			return repoRoot{dir: "."}
		}
	}
}

// path returns name, a path relative to the root, as a path relative to
// the working directory ("schemas", "../../schemas").
func (w repoRoot) path(name string) string { return filepath.Join(w.dir, name) }

// schemas returns the default schema PATH: schemas at the root.
func (w repoRoot) schemas() string { return w.path(defaultValidatePath) }

// stateDir returns the state directory: flag when set, otherwise
// .esm/state at the root.
func (w repoRoot) stateDir(flag string) string {
	if flag != "" {
		return flag
	}
	return w.path(defaultStateDir)
}

// configFile returns the configuration file to read: flag when set,
// otherwise esm.yaml at the root when it exists, otherwise "" (the
// built-in defaults).
func (w repoRoot) configFile(flag string) string {
	if flag != "" {
		return flag
	}
	p := w.path(config.DefaultFile)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}
