package annotations

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Datadog's rules for tags and metric names, from "Getting Started with
// Tags" (https://docs.datadoghq.com/getting_started/tagging/#define-tags)
// and "What best practices are recommended for naming metrics and tags?"
// (https://docs.datadoghq.com/developers/guide/what-best-practices-are-recommended-for-naming-metrics-and-tags/):
//
//   - a tag starts with a letter and may contain alphanumerics (Unicode
//     letters included), underscores, minuses, colons, periods and
//     slashes; other characters are converted to underscores, contiguous
//     underscores are reduced to one and a trailing underscore is removed;
//   - a tag is at most 200 characters long, cannot end with a colon and is
//     converted to lowercase;
//   - a metric name starts with a letter, contains only ASCII
//     alphanumerics, underscores and periods, and is at most 200
//     characters long (metric names are case sensitive).
const (
	// MaxTagLength is the longest tag Datadog keeps, in characters.
	MaxTagLength = 200
	// MaxMetricLength is the longest metric name Datadog accepts.
	MaxMetricLength = 200
)

// ManagedByTag marks every monitor esm makes.
const ManagedByTag = "managed_by:esm"

// reservedTagPrefixes are the tags esm sets itself: the identity tag
// esm-<env> and the source tags esm_record: and esm_file:.
var reservedTagPrefixes = []string{"esm-", "esm_"}

// tagChar reports whether Datadog keeps r in a tag as it is (after
// lowercasing).
func tagChar(r rune) bool {
	switch r {
	case '_', '-', ':', '.', '/':
		return true
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// DatadogTag returns tag the way Datadog stores it: lowercase, characters
// it does not keep converted to underscores, contiguous underscores
// reduced to one, leading characters other than letters and a trailing
// underscore removed, at most MaxTagLength characters. Every tag esm
// builds, and every tag filter of its queries, goes through it, so that
// what esm asks for is what Datadog stores and plans settle.
func DatadogTag(tag string) string {
	var b strings.Builder
	b.Grow(len(tag))
	n, prev := 0, rune(0)
	for _, r := range tag {
		if n == MaxTagLength {
			break
		}
		r = unicode.ToLower(r)
		if !tagChar(r) {
			r = '_'
		}
		if n == 0 && !unicode.IsLetter(r) || r == '_' && prev == '_' {
			continue
		}
		b.WriteRune(r)
		n, prev = n+1, r
	}
	return strings.TrimSuffix(b.String(), "_")
}

// TagFilter returns the filter key:value of a metric query in the form
// Datadog stores the tag, e.g. TagFilter("event_type", "AddToCartEvent")
// is "event_type:addtocartevent".
func TagFilter(key, value string) string { return DatadogTag(key + ":" + value) }

// CheckTag reports what keeps tag from being a valid Datadog tag, or nil.
// Upper case is allowed: Datadog lowercases it, and so does DatadogTag.
func CheckTag(tag string) error {
	switch {
	case tag == "":
		return errors.New("a tag cannot be empty")
	case utf8.RuneCountInString(tag) > MaxTagLength:
		return fmt.Errorf("a tag is at most %d characters long", MaxTagLength)
	case strings.HasSuffix(tag, ":"):
		return errors.New("a tag cannot end with a colon")
	}
	for i, r := range tag {
		if i == 0 && !unicode.IsLetter(r) {
			return errors.New("a tag starts with a letter")
		}
		if !tagChar(r) {
			return fmt.Errorf("a tag holds only letters, digits and _ - : . / (not %q)", r)
		}
	}
	return nil
}

// CheckMetricName reports what keeps name from being a valid Datadog
// metric name, or nil.
func CheckMetricName(name string) error {
	switch {
	case name == "":
		return errors.New("a metric name cannot be empty")
	case len(name) > MaxMetricLength:
		return fmt.Errorf("a metric name is at most %d characters long", MaxMetricLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return errors.New("a metric name starts with an ASCII letter")
		}
		if !letter && !(c >= '0' && c <= '9') && c != '_' && c != '.' {
			return fmt.Errorf("a metric name holds only ASCII letters, digits, _ and . (not %q)", rune(c))
		}
	}
	return nil
}

// IsReservedTag reports whether tag is one esm sets on its own monitors
// (esm-<env>, esm_record:, esm_file:, managed_by:esm), compared in the
// form Datadog stores it: users cannot set these.
func IsReservedTag(tag string) bool {
	t := DatadogTag(tag)
	for _, p := range reservedTagPrefixes {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return t == ManagedByTag
}

// ReservedTagsHint lists the reserved tags, for messages.
const ReservedTagsHint = "esm-*, esm_* and managed_by:esm are esm's own tags"

// NormalizeTags returns tags as Datadog stores them (DatadogTag), sorted
// and without duplicates or empty ones.
func NormalizeTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		t = DatadogTag(t)
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
