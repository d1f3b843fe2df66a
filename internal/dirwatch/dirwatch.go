// Package dirwatch calls a function when the files under a directory
// change: the collector reloads its schemas with it, esm serve its query
// files. Changes are debounced, so that a burst (an editor's save, git
// checkout, the kubelet swapping a ConfigMap's ..data link) makes one
// reload.
package dirwatch

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch calls reload once no file under dir (and its subdirectories,
// hidden ones skipped) has changed for debounce, after every change,
// until ctx is done. onError gets the watcher's errors; they do not stop
// it. Directories created later are watched too.
func Watch(ctx context.Context, dir string, debounce time.Duration, reload func(), onError func(error)) error {
	w, err := Start(dir)
	if err != nil {
		return err
	}
	w.Run(ctx, debounce, reload, onError)
	return nil
}

// Watcher watches a directory from Start on: a change after Start
// returns is not missed, even before Run.
type Watcher struct {
	dir string
	w   *fsnotify.Watcher
}

// Start watches dir and its subdirectories.
func Start(dir string) (*Watcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := addDirs(w, dir); err != nil {
		w.Close()
		return nil, err
	}
	return &Watcher{dir: dir, w: w}, nil
}

// Run calls reload once no file has changed for debounce, after every
// change, until ctx is done, and then closes the watcher.
func (wt *Watcher) Run(ctx context.Context, debounce time.Duration, reload func(), onError func(error)) {
	w := wt.w
	defer w.Close()
	timer := time.NewTimer(debounce)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			if ev.Op.Has(fsnotify.Create) {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
					_ = addDirs(w, ev.Name)
				}
			}
			timer.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			if onError != nil {
				onError(err)
			}
		case <-timer.C:
			reload()
		}
	}
}

// addDirs watches dir and its subdirectories, skipping hidden ones as
// idl.FindSchemaFiles and queryfile.LoadDir do.
func addDirs(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && len(d.Name()) > 1 && d.Name()[0] == '.' {
			return filepath.SkipDir
		}
		return w.Add(p)
	})
}
