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

// The same constructor reaches a Redis Cluster (any seed nodes) or a
// Sentinel group (the sentinels, and the master set's name); Mode says
// which it found. On a cluster, GetMany and Delete split their keys by hash
// slot and DeletePrefix scans every master.
func Example_topologies() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cluster, err := redisstore.New(ctx, rueidis.ClientOption{
		InitAddress: []string{"10.0.1.1:7000", "10.0.1.2:7000"},
	})
	if err == nil {
		defer cluster.Close()
		_ = cluster.Mode() // "cluster"
	}
	sentinel, err := redisstore.New(ctx, rueidis.ClientOption{
		InitAddress: []string{"10.0.0.1:26379", "10.0.0.2:26379"},
		Sentinel:    rueidis.SentinelOption{MasterSet: "mymaster"},
	})
	if err == nil {
		defer sentinel.Close()
		_ = sentinel.Mode() // "sentinel"
	}
}
