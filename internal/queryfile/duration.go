package queryfile

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// ParseInterval parses an ISO 8601 duration of weeks, days, hours,
// minutes and seconds: P1W, P1D, PT5M, PT1H30M, P1DT12H, PT90S.
//
// Years (P1Y) and months (P1M) are rejected: they have no fixed length,
// so "run every month" would drift with the calendar while esm runs a
// query when a fixed time has passed since the last run; write P30D.
// Fractions (PT0.5S), signs and zero durations are rejected too, and a
// week is accepted alone only (P1W, not P1W2D), as ISO 8601:2004 says.
func ParseInterval(s string) (time.Duration, error) {
	if len(s) < 2 || s[0] != 'P' {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration (such as PT5M, PT1H30M, P1D or P1W)", s)
	}
	var total time.Duration
	inTime := false
	last := 0 // rank of the last unit seen, to enforce the order
	components := 0
	rest := s[1:]
	for len(rest) > 0 {
		if rest[0] == 'T' {
			if inTime {
				return 0, fmt.Errorf("%q: T appears twice", s)
			}
			inTime = true
			rest = rest[1:]
			if len(rest) == 0 {
				return 0, fmt.Errorf("%q: T must be followed by hours, minutes or seconds", s)
			}
			continue
		}
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			switch rest[0] {
			case '-', '+':
				return 0, fmt.Errorf("%q: an interval must be positive, without a sign", s)
			}
			return 0, fmt.Errorf("%q: expected a number at %q", s, rest)
		}
		if i == len(rest) {
			return 0, fmt.Errorf("%q: the number %s has no unit", s, rest)
		}
		unit := rest[i]
		if unit == '.' || unit == ',' {
			return 0, fmt.Errorf("%q: fractions are not supported; use a smaller unit (PT90S, not PT1.5M)", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q: the number %s is too large", s, rest[:i])
		}
		var size time.Duration
		var rank int
		switch {
		case !inTime && (unit == 'Y' || unit == 'M'):
			return 0, fmt.Errorf("%q: years and months have no fixed length; write days instead (P30D)", s)
		case !inTime && unit == 'W':
			size, rank = 7*24*time.Hour, 1
		case !inTime && unit == 'D':
			size, rank = 24*time.Hour, 2
		case inTime && unit == 'H':
			size, rank = time.Hour, 3
		case inTime && unit == 'M':
			size, rank = time.Minute, 4
		case inTime && unit == 'S':
			size, rank = time.Second, 5
		case !inTime && (unit == 'H' || unit == 'S'):
			return 0, fmt.Errorf("%q: hours, minutes and seconds come after T (PT%d%c)", s, n, unit)
		default:
			return 0, fmt.Errorf("%q: unknown unit %q", s, string(unit))
		}
		if rank <= last {
			return 0, fmt.Errorf("%q: units must appear once each, in the order W, D, T, H, M, S", s)
		}
		if last == 1 || (rank == 1 && components > 0) {
			return 0, fmt.Errorf("%q: weeks cannot be combined with other units; write days (P9D)", s)
		}
		last = rank
		components++
		if n > int64(math.MaxInt64/size) || total > math.MaxInt64-time.Duration(n)*size {
			return 0, fmt.Errorf("%q is too long", s)
		}
		total += time.Duration(n) * size
		rest = rest[i+1:]
	}
	if components == 0 {
		return 0, fmt.Errorf("%q has no components (such as PT5M)", s)
	}
	if total <= 0 {
		return 0, errors.New("an interval must be longer than zero")
	}
	return total, nil
}
