package queryfile

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseInterval(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{in: "PT5M", want: 5 * time.Minute},
		{in: "PT1H30M", want: 90 * time.Minute},
		{in: "P1D", want: 24 * time.Hour},
		{in: "P1W", want: 7 * 24 * time.Hour},
		{in: "P1DT12H", want: 36 * time.Hour},
		{in: "PT90S", want: 90 * time.Second},
		{in: "P2DT1H2M3S", want: 49*time.Hour + 2*time.Minute + 3*time.Second},
		{in: "", err: `"" is not an ISO 8601 duration (such as PT5M, PT1H30M, P1D or P1W)`},
		{in: "5m", err: `"5m" is not an ISO 8601 duration (such as PT5M, PT1H30M, P1D or P1W)`},
		{in: "P", err: `"P" is not an ISO 8601 duration (such as PT5M, PT1H30M, P1D or P1W)`},
		{in: "PT", err: `"PT": T must be followed by hours, minutes or seconds`},
		{in: "P1M", err: `"P1M": years and months have no fixed length; write days instead (P30D)`},
		{in: "P1Y", err: `"P1Y": years and months have no fixed length; write days instead (P30D)`},
		{in: "PT0S", err: `an interval must be longer than zero`},
		{in: "P0D", err: `an interval must be longer than zero`},
		{in: "P-1D", err: `"P-1D": an interval must be positive, without a sign`},
		{in: "PT1.5M", err: `"PT1.5M": fractions are not supported; use a smaller unit (PT90S, not PT1.5M)`},
		{in: "P1H", err: `"P1H": hours, minutes and seconds come after T (PT1H)`},
		{in: "PT1D", err: `"PT1D": unknown unit "D"`},
		{in: "PT5M1H", err: `"PT5M1H": units must appear once each, in the order W, D, T, H, M, S`},
		{in: "PT1M1M", err: `"PT1M1M": units must appear once each, in the order W, D, T, H, M, S`},
		{in: "P1W2D", err: `"P1W2D": weeks cannot be combined with other units; write days (P9D)`},
		{in: "PT1TM", err: `"PT1TM": unknown unit "T"`},
		{in: "PT1HT1M", err: `"PT1HT1M": T appears twice`},
		{in: "PT5", err: `"PT5": the number 5 has no unit`},
		{in: "P99999999999999999999D", err: `"P99999999999999999999D": the number 99999999999999999999 is too large`},
		{in: "P999999999D", err: `"P999999999D" is too long`},
		{in: "PT9223372036S", want: 9223372036 * time.Second},
		{in: "P106751DT23H47M17S", err: `"P106751DT23H47M17S" is too long`},
		{in: "PT5MX", err: `"PT5MX": expected a number at "X"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseInterval(tt.in)
			if tt.err != "" {
				assert.EqualError(t, err, tt.err)
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
