package alertmanager

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzMergeInto merges the channel forms' fragment into arbitrary input:
// an error or a configuration that is YAML again and holds esm's route
// and receivers, never a panic.
func FuzzMergeInto(f *testing.F) {
	for _, seed := range []string{minimalConfig, smtpSettings + minimalConfig, "", "- a\n", "route: [\n", "route:\n  routes:\nreceivers:\n",
		"route: {receiver: x, routes: 3}\nreceivers: {a: b}\n", "route: &r {receiver: x}\nother: *r\n",
		"receivers:\n  - name: esm-prod-team-cart\nroute: {receiver: default}\n"} {
		f.Add(seed)
	}
	frag, _, err := Build(channelForms(), Options{Env: "prod", EnvTag: "prod"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, base string) {
		out, err := frag.MergeInto("am.yml", []byte(base))
		if err != nil {
			return
		}
		var v any
		if err := yaml.Unmarshal(out, &v); err != nil {
			t.Fatalf("merged configuration is no YAML: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "esm-prod-team-cart") || !strings.Contains(string(out), `esm_monitor=~".+"`) {
			t.Fatalf("merged configuration lacks esm's route or receivers:\n%s", out)
		}
	})
}
