package annotations

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSuggest(t *testing.T) {
	names := []string{"alert_channel", "traffic_anomaly_monitor", "traffic_volume_monitor", "log_monitor"}
	for _, tt := range []struct{ in, want string }{
		{"alert_chanel", "alert_channel"},
		{"alert_channels", "alert_channel"},
		{"Alert_Channel", "alert_channel"},
		{"alret_channel", "alert_channel"},
		{"traffic_anomaly_monitors", "traffic_anomaly_monitor"},
		{"trafic_volume_monitor", "traffic_volume_monitor"},
		{"log_montor", "log_monitor"},
		{"alert_channel", ""},
		{"namespace", ""},
		{"java-class", ""},
		{"aliases", ""},
		{"alert", ""},
		{"traffic_monitor", ""},
	} {
		got, ok := Suggest(tt.in, names)
		assert.Equal(t, tt.want != "", ok, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	got, ok := Suggest("deviaton", []string{"deviations", "direction", "interval"})
	assert.True(t, ok)
	assert.Equal(t, "deviations", got)
}

func TestClosest(t *testing.T) {
	best, d := Closest("ESM_WEBHOOK_SECRET", []string{"ESM_WEBHOOK_SECRETS", "ESM_GITHUB_TOKEN"})
	assert.Equal(t, "ESM_WEBHOOK_SECRETS", best)
	assert.Equal(t, 1, d)
	best, _ = Closest("ESM_XYZ", []string{"ESM_ADDR", "ESM_ROLE"})
	assert.NotEmpty(t, best, "always the closest, however far")
	best, d = Closest("x", nil)
	assert.Equal(t, "", best)
	assert.Equal(t, -1, d)
}
