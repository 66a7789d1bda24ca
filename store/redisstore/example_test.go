package redisstore_test

import (
	"context"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/store/redisstore"
)

// Bring your own rueidis options (or client, with NewFromClient) and hand
// the store to a Cache.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := redisstore.New(ctx, rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6380"}, DisableCache: true})
	if err != nil {
		return // no Redis there
	}
	defer s.Close()
	cache, _ := tradecache.New(ctx, tradecache.Config{}, tradecache.WithStore(s))
	defer cache.Close()
	_ = cache.Set(ctx, "k", "v", 0)
}
