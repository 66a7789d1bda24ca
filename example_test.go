package tradecache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
)

// A zero Config runs on the embedded in-memory store: no Redis needed.
// Decimals keep their scale and times keep their zone.
func Example() {
	ctx := context.Background()
	cache, err := tradecache.New(ctx, tradecache.Config{})
	if err != nil {
		panic(err)
	}
	defer cache.Close()

	type Quote struct {
		Symbol string          `json:"symbol"`
		Bid    decimal.Decimal `json:"bid"`
		At     time.Time       `json:"at"`
	}
	ny, _ := time.LoadLocation("America/New_York")
	quotes := cache.Namespace(tradecache.NamespaceMarketData)
	in := Quote{Symbol: "AAPL", Bid: decimal.RequireFromString("150.00"), At: time.Date(2026, 11, 26, 9, 30, 0, 0, ny)}
	if err := quotes.Set(ctx, "AAPL", in, 0); err != nil { // 0: the market-data TTL policy
		panic(err)
	}
	var out Quote
	found, err := quotes.Get(ctx, "AAPL", &out)
	fmt.Println(found, err, out.Bid.StringFixed(-out.Bid.Exponent()), out.At.Format("15:04 MST"))
	// Output: true <nil> 150.00 09:30 EST
}

// Config comes from the environment variables of the layer tradecache
// replaces; every bad variable is reported at once.
func ExampleConfigFromEnv() {
	cfg, err := tradecache.ConfigFromEnv()
	var ce *tradecache.ConfigError
	if errors.As(err, &ce) {
		for _, f := range ce.Fields {
			fmt.Println(f.Env, f.Reason)
		}
		return
	}
	fmt.Println(cfg.Redis.Enabled()) // false unless REDIS_URL or REDIS_HOST is set
}

// Namespaces carry their own TTL policy and key space.
func ExampleCache_Namespace() {
	ctx := context.Background()
	cache, _ := tradecache.New(ctx, tradecache.Config{SessionTTL: 15 * time.Minute})
	defer cache.Close()

	sessions := cache.Namespace(tradecache.NamespaceSession)
	_ = sessions.Set(ctx, "tok-1", map[string]string{"user": "trader-7"}, 0)
	ttl, _, _ := sessions.TTL(ctx, "tok-1")
	fmt.Println(sessions.DefaultTTL(), ttl <= 15*time.Minute)
	// Output: 15m0s true
}

// SetMany and GetMany send MaxBatchSize keys per round trip.
func ExampleNamespace_GetMany() {
	ctx := context.Background()
	cache, _ := tradecache.New(ctx, tradecache.Config{})
	defer cache.Close()

	px := cache.Namespace(tradecache.NamespaceMarketData)
	_ = px.SetMany(ctx, map[string]any{
		"AAPL": decimal.RequireFromString("150.00"),
		"MSFT": decimal.RequireFromString("410.10"),
	}, 0)
	prices := map[string]decimal.Decimal{}
	n, err := px.GetMany(ctx, []string{"AAPL", "MSFT", "GOOG"}, &prices)
	fmt.Println(n, err, prices["AAPL"].StringFixed(2), prices["MSFT"].StringFixed(2))
	// Output: 2 <nil> 150.00 410.10
}

// Bad keys fail before anything is sent, with a typed error.
func ExampleKeyError() {
	ctx := context.Background()
	cache, _ := tradecache.New(ctx, tradecache.Config{})
	defer cache.Close()

	err := cache.Set(ctx, "AAPL US", 1, 0)
	var ke *tradecache.KeyError
	fmt.Println(errors.Is(err, tradecache.ErrInvalidKey), errors.As(err, &ke) && ke.Op == "set")
	// Output: true true
}

// ClearNamespace removes one namespace's keys with SCAN and UNLINK.
func ExampleCache_ClearNamespace() {
	ctx := context.Background()
	cache, _ := tradecache.New(ctx, tradecache.Config{})
	defer cache.Close()

	_ = cache.Namespace("risk").Set(ctx, "P1:VaR", 1, 0)
	_ = cache.Namespace("risk").Set(ctx, "P2:VaR", 2, 0)
	_ = cache.Namespace("portfolio").Set(ctx, "P1", 3, 0)
	n, _ := cache.ClearNamespace(ctx, "risk")
	left, _ := cache.Namespace("portfolio").Exists(ctx, "P1")
	fmt.Println(n, left)
	// Output: 2 true
}

// One Config field picks the topology: ClusterAddrs for a Redis Cluster,
// SentinelAddrs with SentinelMaster for Sentinel, Host (with ReplicaAddrs
// for read replicas) for one primary. Validate names every conflict before
// anything connects.
func ExampleRedisConfig_topology() {
	cfg := tradecache.Config{
		Redis: tradecache.RedisConfig{
			ClusterAddrs:  []string{"10.0.1.1:7000", "10.0.1.2:7000"},
			SentinelAddrs: []string{"10.0.0.1:26379"}, // a second topology: an error
			DB:            3,                          // a cluster has only database 0
		},
		// Quotes tolerate replication lag; read them from replicas.
		Namespaces: map[string]tradecache.NamespaceConfig{
			tradecache.NamespaceMarketData: {ReadFromReplica: true},
		},
	}
	var ce *tradecache.ConfigError
	if errors.As(cfg.Validate(), &ce) {
		for _, f := range ce.Fields {
			fmt.Println(f.Env+":", f.Reason)
		}
	}
	// Output:
	// REDIS_SENTINEL_ADDRS: conflicts with REDIS_CLUSTER_ADDRS: set one topology
	// REDIS_SENTINEL_MASTER: REDIS_SENTINEL_ADDRS needs the master set's name
	// REDIS_DB: a Redis Cluster has only database 0
}

// On a Redis Cluster with a shard down, GetMany returns what the other
// shards hold and names the keys it could not read; they are neither hits
// nor misses, so load or skip them rather than treat them as absent.
func ExamplePartialError() {
	ctx := context.Background()
	cache, err := tradecache.New(ctx, tradecache.Config{}) // a cluster: Redis.ClusterAddrs
	if err != nil {
		return
	}
	defer cache.Close()
	quotes := cache.Namespace(tradecache.NamespaceMarketData)
	got := map[string]string{}
	_, err = quotes.GetMany(ctx, []string{"AAPL", "MSFT", "NVDA"}, &got)
	var partial *tradecache.PartialError
	switch {
	case errors.As(err, &partial):
		// got holds the rest; each key not read has its own cause
		// (unreachable, timed out, or the server's CLUSTERDOWN).
		for i, k := range partial.Keys {
			fmt.Println("not read:", k, partial.Errs[i])
		}
	case err != nil:
		fmt.Println("nothing read:", err)
	}
}
