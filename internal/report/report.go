// Package report renders a monitor plan and the outcome of applying it:
// Text for people (like "terraform plan"), JSON for programs, Results for
// the outcome of "esm apply".
//
// # JSON
//
// JSON writes one object:
//
//	{
//	  "env": "prod",
//	  "tag": "esm-prod",
//	  "changes": [
//	    {
//	      "action": "create",            // create, update, delete or unchanged
//	      "name": "Traffic Anomaly with AddToCartEvent",
//	      "id": null,                    // the store's monitor ID; null for a create
//	      "record": "com.example.shop.AddToCartEvent",
//	      "file": "schemas/cart.avdl",
//	      "line": 19,                    // the annotation's line and column, when known
//	      "column": 3,
//	      "reason": "duplicate of monitor 5, healing", // when the change needs explaining
//	      "healing": true,               // a deletion that heals a duplicate of a kept monitor
//	      "drift": true,                 // an update of a monitor changed outside esm
//	      "drifted_fields": ["query", "options.thresholds.critical"],
//	      "diff": {
//	        "query": {"before": null, "after": "avg(last_4h):anomalies(...) >= 1"},
//	        "tags": {"before": null, "after": ["esm-prod", "esm_record:com.example.shop.addtocartevent"]},
//	        "options.thresholds.critical": {"before": null, "after": 1}
//	      }
//	    }
//	  ],
//	  "notes": ["monitor 9 \"X\" duplicates monitor 5: keeping the older one, deleting this one"],
//	  "summary": {"create": 1, "update": 0, "delete": 0, "unchanged": 0, "healing": 0, "drift": 0}
//	}
//
// Every change is listed, unchanged ones too, sorted by name then ID.
// "diff" holds only the fields that differ, keyed by the owned field names
// of monitor.FieldNames and in that order; it is {} for an unchanged
// monitor. A side that is absent (the monitor does not exist, or the
// field is unset) is null. Values are typed: "tags" is an array of
// strings, thresholds, priority and durations are numbers, flags are
// booleans and the rest are strings. "line", "column", "reason" and
// "notes" are left out when empty. "healing" marks the deletion of a
// newer duplicate of a monitor the plan keeps (left by concurrent runs):
// it repairs the store and the mass-delete guard does not count it; the
// summary's "healing" counts them (they are included in "delete") and is
// left out when zero. "drift" marks an update of a monitor that was
// changed outside esm (edited in Datadog's UI, say) since esm last wrote
// it, and "drifted_fields" names those fields, owned-field names in table
// order; applying the plan reverts them, and "diff" still lists every
// field that differs from the schemas. Both are left out without drift (a
// monitor without esm's fingerprint gets no verdict); the summary's
// "drift" counts such updates (included in "update") and is left out when
// zero.
package report

import (
	"strconv"
	"strings"

	"github.com/esm-dev/esm/internal/monitor"
)

// kind is how the value of an owned field is shown: the field's kind in
// the table of owned fields.
type kind = monitor.FieldKind

const (
	stringKind = monitor.StringField
	listKind   = monitor.ListField // "a, b" in monitor.Fields, one item a line here
	numberKind = monitor.NumberField
	boolKind   = monitor.BoolField
)

// fieldKind returns the kind of an owned field; string when unknown.
func fieldKind(field string) kind {
	f, _ := monitor.FieldByName(field)
	return f.Kind
}

// listItems splits a list field's value as monitor.Fields joins it.
func listItems(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ", ")
}

// source renders where a change comes from: "com.example.Ping at
// schemas/x.avdl:7", either part alone, or "" when neither is known.
func source(c *monitor.Change) string {
	loc := c.File
	if loc != "" && c.Line > 0 {
		loc += ":" + strconv.Itoa(c.Line)
	}
	switch {
	case c.Record != "" && loc != "":
		return c.Record + " at " + loc
	case c.Record != "":
		return c.Record
	default:
		return loc
	}
}
