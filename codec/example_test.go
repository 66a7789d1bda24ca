package codec_test

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache/codec"
)

// The envelope keeps a decimal's scale: 150.00 does not come back as 150.
func Example() {
	c, _ := codec.New(codec.Options{})
	b, _ := c.Marshal("k", decimal.RequireFromString("150.00"))
	h, _ := codec.ParseHeader(b)

	var d decimal.Decimal
	_ = c.Unmarshal("k", b, &d)
	fmt.Printf("header 0x%02x version %d, %s\n", b[0], h.Version, codec.DecimalString(d))
	// Output: header 0x10 version 1, 150.00
}
