package memstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tradecache/tradecache/store/memstore"
)

// A bounded in-process store: users' own tests can run a tradecache.Cache
// on it with tradecache.WithStore.
func Example() {
	ctx := context.Background()
	s, _ := memstore.New(memstore.Options{MaxBytes: 64 << 20})
	defer s.Close()

	_ = s.Set(ctx, "trading:market_data:AAPL", []byte("payload"), time.Minute)
	v, found, _ := s.Get(ctx, "trading:market_data:AAPL")
	fmt.Println(string(v), found)
	// Output: payload true
}
