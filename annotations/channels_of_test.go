package annotations

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestChannelsOf(t *testing.T) {
	c := Channels{Always: []string{" team-b ", "team-a"}, Critical: []string{"pagerduty-x", "team-a"}, Warning: []string{"slack-w"}, Recovery: []string{"r"}}
	assert.Equal(t, []string{"pagerduty-x", "team-a", "team-b"}, c.Of("critical"))
	assert.Equal(t, []string{"slack-w", "team-a", "team-b"}, c.Of("warning"))
	assert.Equal(t, []string{"team-a", "team-b"}, c.Of("no_data"), "only the Always channels for another severity")
	assert.Empty(t, Channels{Warning: []string{"w"}}.Of("critical"))
}
