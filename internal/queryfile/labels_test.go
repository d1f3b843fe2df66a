package queryfile

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestLabelsAreDistinctAsDogStatsDTags: DogStatsD tags are lowercase, so
// a label that differs from a reserved one (query, env) or from another
// label only by case would collide in Datadog; both are errors.
func TestLabelsAreDistinctAsDogStatsDTags(t *testing.T) {
	_, list := ParseFile("q.yaml", []byte("name: q\ndb: main\nquery: SELECT 1\nlabels: [Env, QUERY, country, Country]\n"), ParseOptions{})
	var got []string
	for _, d := range list {
		got = append(got, d.Error())
	}
	assert.Equal(t, []string{
		`q.yaml:4:10: label "Env" is reserved: esm sets it on every series`,
		`q.yaml:4:15: label "QUERY" is reserved: esm sets it on every series`,
		`q.yaml:4:31: label "Country" is already listed at q.yaml:4:22`,
	}, got)
}
