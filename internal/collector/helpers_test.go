package collector

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeMeter counts in memory.
type fakeMeter struct {
	mu         sync.Mutex
	received   map[string]int
	rejected   map[string]int // "type/reason"
	reloads    int
	reloadErrs int
	types      int
}

func newFakeMeter() *fakeMeter {
	return &fakeMeter{received: map[string]int{}, rejected: map[string]int{}}
}

func (m *fakeMeter) Counter(eventType string) Counter { return &fakeCounter{m: m, t: eventType} }

func (m *fakeMeter) SchemaReload(err error, types int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.reloadErrs++
	} else {
		m.reloads++
	}
	m.types = types
}

func (m *fakeMeter) got(eventType string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.received[eventType]
}

func (m *fakeMeter) rej(eventType, reason string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rejected[eventType+"/"+reason]
}

type fakeCounter struct {
	m *fakeMeter
	t string
}

func (c *fakeCounter) Received(n int) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.m.received[c.t] += n
}

func (c *fakeCounter) Rejected(reason Reason, n int) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.m.rejected[c.t+"/"+reason] += n
}

// testRegistry loads testdata/schemas.
func testRegistry(t testing.TB) (*Registry, *fakeMeter) {
	t.Helper()
	m := newFakeMeter()
	r, err := NewRegistry("testdata/schemas", m, nil)
	require.NoError(t, err)
	return r, m
}

// member is one member of a JSON object, written raw.
type member struct{ name, raw string }

// object renders members as a JSON object.
func object(ms []member) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + m.name + `":` + m.raw)
	}
	b.WriteByte('}')
	return b.String()
}

// with returns ms with name set to raw (appended when absent), or
// removed when raw is "".
func with(ms []member, name, raw string) []member {
	out := make([]member, 0, len(ms)+1)
	found := false
	for _, m := range ms {
		if m.name == name {
			found = true
			if raw == "" {
				continue
			}
			m.raw = raw
		}
		out = append(out, m)
	}
	if !found && raw != "" {
		out = append(out, member{name, raw})
	}
	return out
}

// everything is a valid test.types.Everything.
var everything = []member{
	{"nothing", `null`},
	{"flag", `true`},
	{"small", `-12`},
	{"big", `9007199254740993`},
	{"ratio", `1.5`},
	{"precise", `-2.5e-3`},
	{"raw", `"\u00ff\u0000ab"`},
	{"text", `"héllo \"wörld\" \ud83d\ude00"`},
	{"color", `"GREEN"`},
	{"hash", `"abcd"`},
	{"inner", `{"name": "x"}`},
	{"items", `[{"name": "a", "n": 1}, {"name": "b"}]`},
	{"counts", `{"a": 1, "b": -2}`},
	{"note", `null`},
	{"multi", `7`},
	{"day", `19700`},
	{"tod", `3600000`},
	{"tod_us", `3600000000`},
	{"ts", `1700000000000`},
	{"ts_us", `1700000000000000`},
	{"id", `"123e4567-e89b-12d3-a456-426614174000"`},
	{"price", `"123.45"`},
	{"cost", `"1234.56"`},
}
