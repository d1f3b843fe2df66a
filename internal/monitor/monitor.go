// Package monitor holds esm's view of monitors: the desired ones that
// annotations produce, the current ones a store lists, their identity
// (name plus the environment's tag) and the pure Diff that turns the two
// into a Plan, telling a schema change from an edit made outside esm by
// the Fingerprint of what esm last wrote. Apply carries a plan out
// through a Store.
package monitor

import (
	"strings"

	"github.com/esm-dev/esm/annotations"
)

// Monitor is a monitor with its store ID (0 before it is created).
type Monitor struct {
	ID int64
	// Fingerprint is the fingerprint of what esm last wrote to the
	// monitor (see Fingerprint), "" when it has none. Apply sets it on
	// every write; stores keep it (Datadog in the tag
	// esm_fingerprint:<fingerprint>) and hand it back with List. It is not
	// an owned field: Diff does not compare it, it tells which fields
	// changed outside esm (Change.Drift).
	Fingerprint string
	Definition
}

// Source says where a desired monitor comes from.
type Source struct {
	Record string // full name of the record, e.g. com.example.AddToCartEvent
	File   string // schema file, as given to the parser
	Line   int    // line of the annotation
	Column int
	Kind   string // annotation name, e.g. traffic_anomaly_monitor
}

// Desired is a monitor that the schemas ask for.
type Desired struct {
	Definition
	Source Source
}

// Tag prefixes with which esm marks the monitors it owns. The identity
// tag is "esm-<env>"; the source tags name the record and the file, so
// that a change-set plan knows which monitors a file owns.
const (
	RecordTagPrefix = "esm_record:"
	FileTagPrefix   = "esm_file:"
)

// EnvTag returns the identity tag of an environment: esm-<env>, in the
// form Datadog stores it.
func EnvTag(env string) string { return annotations.DatadogTag("esm-" + env) }

// SourceTags returns the tags that name a monitor's source record and
// file, in the form Datadog stores them (annotations.DatadogTag): a file
// "schemas/My Cart.avdl" is esm_file:schemas/my_cart.avdl, so that what
// esm asks for is what Datadog keeps, and plans settle.
func SourceTags(s Source) []string {
	tags := []string{RecordTag(s.Record)}
	if s.File != "" {
		tags = append(tags, annotations.DatadogTag(FileTagPrefix+s.File))
	}
	return tags
}

// FileTagValue returns the value of a schema file's tag: the file (or
// directory) in the form Datadog stores it, as scopes hold it.
func FileTagValue(file string) string {
	return strings.TrimPrefix(annotations.DatadogTag(FileTagPrefix+file), FileTagPrefix)
}

// RecordTag returns the tag that names a record (by its full name) on its
// monitors; RecordTagValue its value, as change-set scopes hold it.
func RecordTag(fullName string) string { return annotations.DatadogTag(RecordTagPrefix + fullName) }

// RecordTagValue returns the value of a record's tag: its full name in
// the form Datadog stores it.
func RecordTagValue(fullName string) string {
	return strings.TrimPrefix(RecordTag(fullName), RecordTagPrefix)
}

// TagValue returns the value of the first tag with the given prefix.
func TagValue(tags []string, prefix string) (string, bool) {
	for _, t := range tags {
		if strings.HasPrefix(t, prefix) {
			return t[len(prefix):], true
		}
	}
	return "", false
}

// HasTag reports whether tags holds tag (compared as Datadog does,
// ignoring case).
func HasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
}
