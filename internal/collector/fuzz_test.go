package collector

import (
	"encoding/json"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the JSON walker, as an event of each
// test type and as a batch line. It must never panic, and it must accept
// only valid JSON.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(object(everything)))
	f.Add([]byte(`{"value": "a", "next": {"Node": {"value": "b", "next": null}}}`))
	f.Add([]byte(`{"name": "\ud83d\ude00\u00e9", "n": -0}`))
	f.Add([]byte(`{"type": "Inner", "event": {"name": "x"}}`))
	f.Add([]byte(`{"event": {"name": "x"}, "type": "test.types.Inner"}`))
	f.Add([]byte(`[1, 2.5e-3, "x", true, null, {}]`))
	reg, _ := testRegistry(f)
	set := reg.current()
	var nodes []*node
	for _, t := range set.types {
		nodes = append(nodes, t.node)
	}
	c := New(reg, Options{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d decoder
		for _, n := range nodes {
			if err := d.validate(n, b); err == nil && !json.Valid(b) {
				t.Fatalf("accepted invalid JSON as %s: %q", n.name, b)
			}
		}
		st := c.getState()
		defer c.putState(st)
		if typ, rej := c.envelope(set, st, b); rej == nil {
			if typ == nil || !json.Valid(b) {
				t.Fatalf("accepted invalid envelope: %q", b)
			}
		}
	})
}
