package idl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// generateProtocol writes a protocol of n records in the style of real
// event schemas: doc comments, record and field annotations, unions,
// nullable fields, arrays, maps, logical types, defaults and references
// to earlier records. The output is deterministic.
func generateProtocol(n int) []byte {
	var b strings.Builder
	b.WriteString("/**\n * Generated benchmark protocol.\n */\n@namespace(\"com.example.events\")\nprotocol Events {\n")
	b.WriteString("  enum Currency { EUR, USD, GBP, JPY } = EUR;\n  fixed Hash(16);\n\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  /**\n   * Event number %d: emitted when something happens.\n   * Owned by team-%d.\n   */\n", i, i%17)
		fmt.Fprintf(&b, "  @alert_channel(\"team-%d\")\n", i%17)
		if i%3 == 0 {
			fmt.Fprintf(&b, "  @traffic_anomaly_monitor({\"deviations\": %d, \"algorithm\": \"agile\", \"tags\": [\"tier:%d\"]})\n", 2+i%3, i%4)
		}
		fmt.Fprintf(&b, "  record Event%d {\n", i)
		b.WriteString("    /** Unique id of the event. */\n    uuid event_id;\n")
		b.WriteString("    timestamp_ms occurred_at;\n")
		b.WriteString("    @pii(true) string? user_id = null;\n")
		b.WriteString("    union { null, string, long } correlation = null;\n")
		b.WriteString("    array<string> tags = [];\n")
		b.WriteString("    map<long> counters = {};\n")
		b.WriteString("    decimal(12, 2) amount;\n")
		b.WriteString("    Currency currency = \"EUR\";\n")
		b.WriteString("    int quantity = 1;\n")
		b.WriteString("    double ratio = 0.5;\n")
		b.WriteString("    boolean test = false;\n")
		b.WriteString("    string @order(\"ignore\") source = \"web\";\n")
		if i > 0 {
			fmt.Fprintf(&b, "    union { null, Event%d } previous = null;\n", i-1)
		}
		b.WriteString("  }\n\n")
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

func benchmarkParse(b *testing.B, name string, src []byte) {
	b.Helper()
	if _, err := Parse(name, src, Options{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(name, src, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseGenerated parses generated protocols of growing size; the
// time per byte must stay flat (linear time).
func BenchmarkParseGenerated(b *testing.B) {
	for _, n := range []int{250, 500, 1000, 2000, 4000} {
		src := generateProtocol(n)
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			benchmarkParse(b, "events.avdl", src)
		})
	}
}

// BenchmarkParseCorpus parses every IDL input of the conformance suite,
// imports included, once per iteration.
func BenchmarkParseCorpus(b *testing.B) {
	dir, cases := loadCases(b)
	type input struct {
		path string
		opts Options
	}
	var inputs []input
	var size int64
	for _, c := range cases {
		if c.Kind == "error" {
			continue
		}
		path := filepath.Join(dir, c.Input)
		res, err := LoadFile(path, c.options(dir))
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range res.Files {
			st, err := os.Stat(f)
			if err != nil {
				b.Fatal(err)
			}
			size += st.Size()
		}
		inputs = append(inputs, input{path, c.options(dir)})
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, in := range inputs {
			if _, err := LoadFile(in.path, in.opts); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkJSON writes the 2,000-record protocol as the idl tool does.
func BenchmarkJSON(b *testing.B) {
	src := generateProtocol(2000)
	res, err := Parse("events.avdl", src, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := res.JSON(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestGeneratedProtocolParses(t *testing.T) {
	res, err := Parse("events.avdl", generateProtocol(50), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Types); got != 52 {
		t.Fatalf("%d named types, want 52", got)
	}
	ev := res.Lookup("com.example.events.Event3")
	if ev == nil || ev.Doc != "Event number 3: emitted when something happens.\nOwned by team-3." {
		t.Fatalf("Event3 = %+v", ev)
	}
	if v := ev.Prop("traffic_anomaly_monitor"); v == nil || v.Member("deviations").Int != 2 {
		t.Fatalf("annotation not read: %+v", ev.Props)
	}
	if prev := ev.Fields[len(ev.Fields)-1].Type.Types[1]; prev != res.Lookup("com.example.events.Event2") {
		t.Fatalf("previous does not point to Event2")
	}
}
