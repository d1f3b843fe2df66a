package monitor

import (
	"crypto/sha256"
	"slices"
	"strings"
)

// FingerprintTagPrefix starts the tag in which a store keeps the
// fingerprint of what esm last wrote to a monitor:
// esm_fingerprint:<Fingerprint>. Stores take the tag out of Tags into
// Monitor.Fingerprint when they read a monitor and put it back when they
// write one, so that Diff never compares it: a monitor without a
// fingerprint (written by an older esm) plans no change for lack of one.
const FingerprintTagPrefix = "esm_fingerprint:"

// fingerprintAlphabet is lowercase base32: characters Datadog keeps in a
// tag as they are.
const fingerprintAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// fingerprintChars is the length of one hash in a fingerprint: four base32
// characters, 20 bits, so that the tag of the 22 owned fields stays well
// under Datadog's 200 characters and an edit goes unnoticed about once in
// a million.
const fingerprintChars = 4

// fieldTable is the hash of the owned fields' names in table order: the
// first part of every fingerprint. A fingerprint written with another
// table (an esm with other owned fields) gives no verdict rather than a
// wrong one.
var fieldTable = shortHash(strings.Join(FieldNames, "\x00"))

// shortHash returns the first 20 bits of s's SHA-256 in fingerprintAlphabet.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	bits := uint32(sum[0])<<16 | uint32(sum[1])<<8 | uint32(sum[2])
	var b [fingerprintChars]byte
	for i := range b {
		b[i] = fingerprintAlphabet[bits>>(19-5*i)&31]
	}
	return string(b[:])
}

// fieldHash is the hash of one owned field's value.
func fieldHash(name, value string) string { return shortHash(name + "\x00" + value) }

// Fingerprint returns the fingerprint of d: a hash of the field table,
// ".", then a hash of each owned field's value (Field.Value, normalised as
// Datadog stores it) in table order, 4 characters each. Drifted compares a
// monitor with it field by field. Apply writes it with every create and
// update; FingerprintTag spells it as the tag.
func Fingerprint(d *Definition) string {
	var b strings.Builder
	b.Grow(fingerprintChars*(len(Owned)+1) + 1)
	b.WriteString(fieldTable)
	b.WriteByte('.')
	for _, f := range Owned {
		b.WriteString(fieldHash(f.Name, f.get(d)))
	}
	return b.String()
}

// Drifted returns the names of the owned fields of d, in table order,
// whose values are not the ones fingerprint fp was computed from: the
// fields changed since esm wrote them, outside esm. ok is false when fp is
// not a fingerprint of this esm's field table (empty, edited, or written
// by an esm that owned other fields): then there is no verdict.
func Drifted(fp string, d *Definition) (fields []string, ok bool) {
	table, hashes, found := strings.Cut(fp, ".")
	if !found || table != fieldTable || len(hashes) != fingerprintChars*len(Owned) {
		return nil, false
	}
	for i, f := range Owned {
		if hashes[i*fingerprintChars:(i+1)*fingerprintChars] != fieldHash(f.Name, f.get(d)) {
			fields = append(fields, f.Name)
		}
	}
	return fields, true
}

// FingerprintTag returns the tag that keeps fingerprint fp on a monitor,
// "" for no fingerprint.
func FingerprintTag(fp string) string {
	if fp == "" {
		return ""
	}
	return FingerprintTagPrefix + fp
}

// WithFingerprintTag returns tags with the tag of fingerprint fp added (a
// new slice; tags as they are when fp is ""), for a store that keeps the
// fingerprint among the tags.
func WithFingerprintTag(tags []string, fp string) []string {
	out := append([]string{}, tags...)
	if fp != "" {
		out = append(out, FingerprintTag(fp))
	}
	return out
}

// SplitFingerprintTag returns tags without the fingerprint tags (compared
// ignoring case, as Datadog does) and the fingerprint of the last one, ""
// when there is none: how a store reads what WithFingerprintTag wrote.
func SplitFingerprintTag(tags []string) (rest []string, fp string) {
	isFingerprint := func(t string) bool {
		return len(t) >= len(FingerprintTagPrefix) && strings.EqualFold(t[:len(FingerprintTagPrefix)], FingerprintTagPrefix)
	}
	if !slices.ContainsFunc(tags, isFingerprint) {
		return tags, ""
	}
	for _, t := range tags {
		if isFingerprint(t) {
			fp = strings.ToLower(t[len(FingerprintTagPrefix):])
			continue
		}
		rest = append(rest, t)
	}
	return rest, fp
}
