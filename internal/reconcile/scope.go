package reconcile

import (
	"path/filepath"
	"strings"

	"github.com/esm-dev/esm/internal/monitor"
)

// PathScope returns the scope of a plan over paths ("esm plan PATH..."):
// the monitors whose schema file, as the file tag names it, lies under
// one of them. When a path is root (the schema root) or a directory
// holding it, the paths cover the whole tree: the scope is the whole
// tree, monitors without a file tag (made by an older tool) included,
// and whole is true.
func PathScope(paths []string, root string) (scope monitor.Scope, whole bool) {
	rootAbs, err := filepath.Abs(root)
	if err != nil {
		rootAbs = root
	}
	rel := repoRelative(paths)
	files := []string{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err == nil && (abs == rootAbs || strings.HasPrefix(rootAbs, abs+string(filepath.Separator))) {
			return monitor.Scope{}, true
		}
		files = append(files, monitor.FileTagValue(rel(p)))
	}
	return monitor.Scope{Files: files}, false
}
