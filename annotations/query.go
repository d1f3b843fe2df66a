package annotations

import "sort"

// QueryTarget is the query a query monitor watches: the query file's
// name and label columns. The query's description is the target's Doc.
type QueryTarget struct {
	// Name is the query's name, [a-z0-9_]+.
	Name string
	// Labels are the label columns, in order: the query's series are
	// grouped by them.
	Labels []string
}

// QueryFullName is a query monitor's Target.FullName, and what its
// monitors name as their source in plans: "query:<name>".
func QueryFullName(name string) string { return "query:" + name }

// queryKinds are the kinds of the monitors of query files, by the key
// that names them in a query's monitors: list (threshold: {...}). They
// are not annotations: a record cannot ask for them.
var queryKinds = map[string]Kind{
	"threshold": queryThreshold{},
	"anomaly":   queryAnomaly{},
}

// QueryMonitorKind returns the kind of a query file's monitor entry by
// its key: "threshold" is query_threshold, "anomaly" query_anomaly.
func QueryMonitorKind(key string) (Kind, bool) {
	k, ok := queryKinds[key]
	return k, ok
}

// QueryMonitorKeys returns the keys of a query file's monitor entries,
// sorted.
func QueryMonitorKeys() []string {
	keys := make([]string, 0, len(queryKinds))
	for k := range queryKinds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// QueryKinds returns the kinds of the monitors of query files, sorted by
// name (query_anomaly, query_threshold): esm.yaml takes defaults for
// them as for the annotations' kinds.
func QueryKinds() []Kind {
	out := make([]Kind, 0, len(queryKinds))
	for _, k := range queryKinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Annotation() < out[j].Annotation() })
	return out
}

// QueryKind returns the query monitor kind called name (query_threshold,
// query_anomaly).
func QueryKind(name string) (Kind, bool) {
	for _, k := range queryKinds {
		if k.Annotation() == name {
			return k, true
		}
	}
	return nil, false
}

func isQueryKind(name string) bool {
	_, ok := QueryKind(name)
	return ok
}

// kindRef names a kind in messages: @traffic_volume_monitor for an
// annotation, query_threshold for a query monitor, which is written as a
// YAML key.
func kindRef(kind string) string {
	if isQueryKind(kind) {
		return kind
	}
	return "@" + kind
}
