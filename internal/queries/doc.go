// Package queries runs esm's data-quality query monitors: the runner that
// executes a query (a queryfile.Query) read-only against its database,
// the scheduler that runs each query when its interval has passed, and
// the store that keeps the last result of every query across restarts
// (a directory or S3). The query files themselves are read by
// internal/queryfile, which links no database driver nor SDK.
package queries
