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
// or s3://bucket/prefix. An empty location is DefaultResultStore.
func OpenResultStore(ctx context.Context, location string, opts StoreOptions) (ResultStore, error) {
	if location == "" {
		location = DefaultResultStore
	}
	if strings.HasPrefix(location, "s3://") {
		return nil, fmt.Errorf("result store %s: the S3 store is not built yet", location)
	}
	if strings.Contains(location, "://") {
		return nil, fmt.Errorf("result store %s: want a directory or s3://bucket/prefix", location)
	}
	return NewDirStore(location), nil
}
