package codec

import (
	"math"
	"testing"

	"github.com/shopspring/decimal"
)

func TestNewDecimal(t *testing.T) {
	if !decimalLayoutOK {
		t.Fatal("decimal.Decimal's layout changed: newDecimal fell back to decimal.New and decoding allocates twice per decimal; update decimal_alloc.go")
	}
	for _, v := range []int64{0, 1, -1, 15000, -15000, math.MaxInt64, math.MinInt64, 1 << 40, -(1 << 40)} {
		for _, exp := range []int32{0, -2, -15, 3, -300} {
			got, want := newDecimal(v, exp), decimal.New(v, exp)
			if !got.Equal(want) || got.Exponent() != want.Exponent() || got.Coefficient().Cmp(want.Coefficient()) != 0 ||
				got.String() != want.String() || got.Sign() != want.Sign() {
				t.Fatalf("newDecimal(%d, %d) = %v (%s e%d), want %v", v, exp, got, got.Coefficient(), got.Exponent(), want)
			}
			// Arithmetic on it must not disturb it or anything else.
			sum := got.Add(decimal.New(1, exp))
			if !got.Equal(want) || !sum.Equal(want.Add(decimal.New(1, exp))) {
				t.Fatalf("arithmetic on newDecimal(%d, %d) went wrong", v, exp)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = newDecimal(15000, -2) }); n > 1 {
		t.Fatalf("newDecimal allocates %.0f times, want 1", n)
	}
}
