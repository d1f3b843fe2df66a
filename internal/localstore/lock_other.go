//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package localstore

import "context"

// lockDir is a no-op where flock is not available: writes within one
// process are still serialised, but two esm processes writing the same
// state file at once may lose one's changes.
func lockDir(ctx context.Context, dir string) (unlock func(), err error) {
	return func() {}, ctx.Err()
}

// syncDir does nothing where directories cannot be synced.
func syncDir(dir string) error { return nil }
