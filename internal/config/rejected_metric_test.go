package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVolumeKindDefaults: esm.yaml takes defaults for the traffic volume
// and bad data kinds, per file and per environment, checked at their
// values, as for every registered kind.
func TestVolumeKindDefaults(t *testing.T) {
	good := "defaults:\n  traffic_volume_monitor:\n    above: 100\n  bad_data_monitor:\n    above: 0.1\nenvironments:\n  prod:\n    defaults:\n      traffic_volume_monitor:\n        window: last_4h\n"
	c, err := Parse("esm.yaml", []byte(good))
	require.NoError(t, err)
	layers := c.Layers("traffic_volume_monitor", "prod")
	require.Len(t, layers, 2)
	assert.JSONEq(t, `{"above": 100}`, string(layers[0].Params))
	assert.JSONEq(t, `{"window": "last_4h"}`, string(layers[1].Params))
	require.Len(t, c.Layers("bad_data_monitor", "prod"), 1)

	bad := "defaults:\n  traffic_volume_monitor:\n    below: 1\n    above: 100\n  bad_data_monitor:\n    above: 5\nenvironments:\n  prod:\n    defaults:\n      traffic_volume_monitor:\n        window: 4h\n"
	_, err = Parse("esm.yaml", []byte(bad))
	require.Error(t, err)
	assert.Equal(t, []string{
		`esm.yaml:4:12: defaults: above and below cannot both be set: a traffic volume monitor alerts on one side of its threshold (below is set at esm.yaml:3:12)`,
		`esm.yaml:6:12: defaults: above is a share of the events, from 0.0001 to 1 (0.05 is 5%), not 5`,
		`esm.yaml:11:17: environments.prod.defaults: window must look like last_15m, last_4h or last_1d, not "4h"`,
	}, strings.Split(err.Error(), "\n"))

	_, err = Parse("esm.yaml", []byte("defaults:\n  trafic_volume_monitor: {}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "known kinds: bad_data_monitor, ")
	assert.Contains(t, err.Error(), ", traffic_volume_monitor")
}
