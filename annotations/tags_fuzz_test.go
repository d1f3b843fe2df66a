package annotations

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDatadogTag: the normal form is stable (normalising twice changes
// nothing), holds only what Datadog keeps, and a valid tag only changes
// case and runs of underscores.
func FuzzDatadogTag(f *testing.F) {
	for _, s := range []string{"event_type:AddToCartEvent", "esm_file:Schemas Dir/My Cart.avdl", "a__b_", "9lives", "Équipe:Panier", "env:a b,x}", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := DatadogTag(s)
		if again := DatadogTag(got); again != got {
			t.Fatalf("DatadogTag(%q) = %q, but DatadogTag(%q) = %q", s, got, got, again)
		}
		if utf8.RuneCountInString(got) > MaxTagLength || strings.HasSuffix(got, "_") || strings.Contains(got, "__") {
			t.Fatalf("DatadogTag(%q) = %q", s, got)
		}
		for _, r := range got {
			if !tagChar(r) {
				t.Fatalf("DatadogTag(%q) = %q holds %q", s, got, r)
			}
		}
		if CheckTag(s) == nil && !strings.Contains(s, "__") && !strings.HasSuffix(s, "_") && got != strings.ToLower(s) {
			t.Fatalf("valid tag %q became %q", s, got)
		}
	})
}
