package codec

import (
	"math/big"
	"math/bits"
	"reflect"
	"unsafe"

	"github.com/shopspring/decimal"
)

// shopspring's decimal.New makes two allocations, the big.Int and its
// one-word slice, and every decoded price pays them: a quote's three
// decimals cost six of the wire-format issue's budget of four. newDecimal
// builds the same value in one allocation holding both. It needs to set
// decimal.Decimal's unexported fields, so it checks at start-up that the
// type is still laid out as struct{value *big.Int; exp int32} (true of the
// pinned v1.6.0) and falls back to decimal.New otherwise. TestNewDecimal
// fails if the fast path is ever off, and checks it against decimal.New.

type decimalMirror struct {
	value *big.Int
	exp   int32
}

var decimalLayoutOK = func() bool {
	t := reflect.TypeOf(decimal.Decimal{})
	if t.NumField() != 2 || t.Size() != unsafe.Sizeof(decimalMirror{}) {
		return false
	}
	v, e := t.Field(0), t.Field(1)
	return v.Name == "value" && v.Type == reflect.TypeOf((*big.Int)(nil)) && v.Offset == unsafe.Offsetof(decimalMirror{}.value) &&
		e.Name == "exp" && e.Type == reflect.TypeOf(int32(0)) && e.Offset == unsafe.Offsetof(decimalMirror{}.exp)
}()

// intBox is a big.Int together with room for its words.
type intBox struct {
	i big.Int
	w [2 - bits.UintSize/64]big.Word // one word on 64-bit machines, two on 32-bit
}

// newDecimal returns v × 10^exp, equal to decimal.New(v, exp).
func newDecimal(v int64, exp int32) decimal.Decimal {
	if !decimalLayoutOK {
		return decimal.New(v, exp)
	}
	if v == 0 {
		// A zero coefficient is a nil *big.Int, as in decimal.Decimal's
		// own zero value, which every method reads as 0: no allocation
		// for the zero sizes and prices that quotes carry. TestNewDecimal
		// holds the methods to it.
		var d decimal.Decimal
		(*decimalMirror)(unsafe.Pointer(&d)).exp = exp
		return d
	}
	return decimalIn(new(intBox), v, exp)
}

// decimalIn returns v × 10^exp, v not 0, with its big.Int in box: a
// Reader hands out the boxes of one slab to all of a value's decimals.
func decimalIn(box *intBox, v int64, exp int32) decimal.Decimal {
	u := uint64(v)
	if v < 0 {
		u = -u
	}
	if bits.UintSize == 64 {
		box.w[0] = big.Word(u)
		box.i.SetBits(box.w[:1]) // normalizes: zero gets no words
	} else {
		w := box.w[:] // a slice: the array has one word when compiled for 64 bits
		w[0], w[1] = big.Word(u), big.Word(u>>32)
		box.i.SetBits(w[:2])
	}
	if v < 0 {
		box.i.Neg(&box.i) // in place: no allocation
	}
	var d decimal.Decimal
	m := (*decimalMirror)(unsafe.Pointer(&d))
	m.value, m.exp = &box.i, exp
	return d
}
