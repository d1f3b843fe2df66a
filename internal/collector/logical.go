package collector

import (
	"math"
	"math/big"
	"strconv"

	"github.com/esm-dev/esm/internal/idl"
)

// The checks of logical types, shared by the JSON walker and the Avro
// binary walker so that an event gets the same verdict in both
// encodings. Each returns "" when the value is fine, else what is wrong.

// logicalRange returns the values an int or long of logical type l may
// take.
func logicalRange(l logical) (lo, hi int64) {
	switch l {
	case logicalDate:
		return minDateDays, maxDateDays
	case logicalTimeMillis:
		return 0, dayMillis - 1
	case logicalTimeMicros:
		return 0, dayMicros - 1
	case logicalTimestampMillis:
		return minTimeMillis, maxTimeMillis
	case logicalTimestampMicros:
		return minTimeMicros, maxTimeMicros
	}
	return math.MinInt64, math.MaxInt64
}

// rangeProblem checks the int or long v, written text, against the range
// of n's logical type.
func rangeProblem(n *node, v int64, text []byte) string {
	lo, hi := logicalRange(n.logical)
	if v >= lo && v <= hi {
		return ""
	}
	return "value " + string(text) + " out of range for " + logicalName(n.logical) +
		" (" + strconv.FormatInt(lo, 10) + " to " + strconv.FormatInt(hi, 10) + ")"
}

// uuidProblem checks a string of logical type uuid.
func uuidProblem(s []byte) string {
	if isUUID(s) {
		return ""
	}
	return "expected a uuid such as 123e4567-e89b-12d3-a456-426614174000, got " + quoteShort(s)
}

// maxDecimalPrecision is the largest precision a decimal on a fixed of
// size bytes may declare, as the Avro specification says:
// floor(log10(2^(8*size-1) - 1)).
func maxDecimalPrecision(size int) int {
	if size <= 0 {
		return 0
	}
	return int(math.Floor(math.Log10(math.Pow(2, 8*float64(size)-1) - 1)))
}

// decimalBytes is the number of bytes of the two's-complement form of the
// largest unscaled value of the given precision.
func decimalBytes(precision int) int {
	return int(math.Ceil((float64(precision)*math.Log2(10) + 1) / 8))
}

// decimalName renders decimal(precision,scale).
func decimalName(n *node) string {
	return "decimal(" + strconv.Itoa(n.precision) + "," + strconv.Itoa(n.scale) + ")"
}

// decimalBytesProblem checks the two's-complement, big-endian unscaled
// value b of a decimal in bytes or fixed form: a bytes decimal takes at
// most the bytes its precision needs, and the value has at most
// precision digits.
func decimalBytesProblem(n *node, b []byte) string {
	if n.logical != logicalDecimal {
		return ""
	}
	if n.kind == idl.Bytes && len(b) > decimalBytes(n.precision) {
		return decimalName(n) + " takes at most " + strconv.Itoa(decimalBytes(n.precision)) +
			" bytes, got " + strconv.Itoa(len(b))
	}
	if unscaledFits(b, n.precision) {
		return ""
	}
	v := unscaled(b)
	return "value " + strconv.Quote(scaledText(v, n.scale)) + " does not fit " + decimalName(n)
}

// pow10 holds the powers of ten that fit a uint64.
var pow10 = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// unscaledFits reports whether the two's-complement value b has at most
// precision decimal digits, without allocating for values of up to 8
// bytes.
func unscaledFits(b []byte, precision int) bool {
	for len(b) > 1 && (b[0] == 0 && b[1]&0x80 == 0 || b[0] == 0xff && b[1]&0x80 != 0) {
		b = b[1:] // sign extension carries no digits
	}
	if len(b) <= 8 {
		var v int64
		if len(b) > 0 && b[0]&0x80 != 0 {
			v = -1
		}
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		abs := uint64(v)
		if v < 0 {
			abs = uint64(-v) // -MinInt64 wraps to 1<<63 as a uint64, as wanted
		}
		return precision >= len(pow10) || abs < pow10[precision]
	}
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(precision)), nil)
	v := unscaled(b)
	return v.Abs(v).Cmp(limit) < 0
}

// unscaled decodes a two's-complement, big-endian integer.
func unscaled(b []byte) *big.Int {
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return v
}

// scaledText renders the unscaled value v with scale digits after the
// point: 12345, 2 is "123.45".
func scaledText(v *big.Int, scale int) string {
	s := new(big.Int).Abs(v).String()
	sign := ""
	if v.Sign() < 0 {
		sign = "-"
	}
	if scale == 0 {
		return sign + s
	}
	for len(s) <= scale {
		s = "0" + s
	}
	return sign + s[:len(s)-scale] + "." + s[len(s)-scale:]
}
