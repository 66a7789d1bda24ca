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

// A zero coefficient is decoded as a nil *big.Int, with no allocation. Every
// method must read it exactly as decimal.New(0, exp): this is the guard on
// shopspring's layout and nil handling that the saving rests on.
func TestZeroDecimalCostsNothing(t *testing.T) {
	one := decimal.New(1, 0)
	for _, exp := range []int32{0, -2, -15, 3} {
		got, want := newDecimal(0, exp), decimal.New(0, exp)
		gj, _ := got.MarshalJSON()
		wj, _ := want.MarshalJSON()
		gt, _ := got.MarshalText()
		wt, _ := want.MarshalText()
		gf, _ := got.Float64()
		checks := []struct {
			name      string
			got, want any
		}{
			{"String", got.String(), want.String()},
			{"StringFixed", got.StringFixed(4), want.StringFixed(4)},
			{"JSON", string(gj), string(wj)},
			{"Text", string(gt), string(wt)},
			{"IsZero", got.IsZero(), true},
			{"Cmp", got.Cmp(one), -1},
			{"Neg", got.Neg().String(), want.Neg().String()},
			{"Abs", got.Abs().String(), want.Abs().String()},
			{"Mul", got.Mul(one).String(), want.Mul(one).String()},
			{"Div", got.Div(one).String(), want.Div(one).String()},
			{"Round", got.Round(1).String(), want.Round(1).String()},
			{"Truncate", got.Truncate(1).String(), want.Truncate(1).String()},
			{"IntPart", got.IntPart(), int64(0)},
			{"Float64", gf, 0.0},
			{"BigInt", got.BigInt().Sign(), 0},
			{"CoefficientInt64", got.CoefficientInt64(), int64(0)},
			{"Exponent", got.Exponent(), exp},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("newDecimal(0, %d).%s = %v, want %v", exp, c.name, c.got, c.want)
			}
		}
		// It encodes to the same bytes as decimal.New(0, exp).
		c, _ := New(Options{})
		gb, err1 := c.Marshal("k", got)
		wb, err2 := c.Marshal("k", want)
		if err1 != nil || err2 != nil || string(gb) != string(wb) {
			t.Errorf("newDecimal(0, %d) encodes to %x (%v), decimal.New to %x (%v)", exp, gb, err1, wb, err2)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = newDecimal(0, -2) }); n != 0 {
		t.Fatalf("newDecimal(0, -2) allocates %.0f times, want 0", n)
	}
}
