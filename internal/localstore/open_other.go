//go:build !unix

package localstore

// openNonBlock is 0 where there are no named pipes to wait on; load checks
// that the state file is a regular file before opening it.
const openNonBlock = 0
