//go:build unix

package localstore

import "syscall"

// openNonBlock opens a file without waiting: a named pipe opened for
// reading would otherwise wait for a writer.
const openNonBlock = syscall.O_NONBLOCK
