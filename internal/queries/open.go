package queries

import (
	"context"
	"fmt"
	"strings"
)

// DefaultResultStore is the result store's location when none is set.
const DefaultResultStore = ".esm/queries"

// StoreOptions are the settings of a result store beyond its location.
type StoreOptions struct {
	// S3Endpoint is the endpoint of an S3-compatible store; empty means
	// AWS's own, from the standard AWS configuration chain.
	S3Endpoint string
}

// OpenResultStore opens the result store at location: a directory path,
// or s3://bucket/prefix (an S3Store, with credentials and region from the
// standard AWS chain). An empty location is DefaultResultStore. It makes
// no request: a store that cannot be reached fails its first Load.
func OpenResultStore(ctx context.Context, location string, opts StoreOptions) (ResultStore, error) {
	if location == "" {
		location = DefaultResultStore
	}
	if strings.HasPrefix(location, "s3://") {
		return NewS3Store(ctx, location, opts.S3Endpoint)
	}
	if strings.Contains(location, "://") {
		return nil, fmt.Errorf("result store %s: want a directory or s3://bucket/prefix", location)
	}
	if opts.S3Endpoint != "" {
		return nil, fmt.Errorf("result store %s: queries.s3_endpoint is set but the result store is a directory, not s3://bucket/prefix", location)
	}
	return NewDirStore(location), nil
}
