// Package benchmarks measures tradecache against its peers on one
// redis-server, in one run. It is a module of its own so that the peers
// stay out of the library's go.mod.
//
//	make compare    (or: cd benchmarks && go test -run '^$' -bench . -benchtime 2s)
//
// Workloads, each serial and at 50 goroutines: Get of a cached quote, Set
// of a quote, and the get-or-load hit path. Every library uses its default
// codec and no local cache, so each pays one Redis round trip per call.
package benchmarks

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	gocache "github.com/eko/gocache/lib/v4/cache"
	"github.com/eko/gocache/lib/v4/marshaler"
	libstore "github.com/eko/gocache/lib/v4/store"
	gocacheredis "github.com/eko/gocache/store/redis/v4"
	rediscache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/hist"
	"github.com/tradecache/tradecache/internal/redistest"
)

type Quote struct {
	Symbol string          `json:"symbol" msgpack:"symbol"`
	Bid    decimal.Decimal `json:"bid" msgpack:"bid"`
	Ask    decimal.Decimal `json:"ask" msgpack:"ask"`
	Last   decimal.Decimal `json:"last" msgpack:"last"`
	Volume int64           `json:"volume" msgpack:"volume"`
	TS     time.Time       `json:"ts" msgpack:"ts"`
}

func quote(i int) Quote {
	return Quote{Symbol: fmt.Sprintf("SYM%d", i), Bid: decimal.RequireFromString("150.00"), Ask: decimal.RequireFromString("150.02"),
		Last: decimal.RequireFromString("150.01"), Volume: int64(1000 + i), TS: time.Date(2026, 11, 26, 14, 30, 0, 123456789, time.UTC)}
}

const keys = 1000

// client is one library under test.
type client struct {
	name      string
	get       func(ctx context.Context, i int) error
	set       func(ctx context.Context, i int) error
	getOrLoad func(ctx context.Context, i int) error // nil when the library has none
}

func setup(b *testing.B) []client {
	srv := redistest.Start(b)
	ctx := context.Background()
	key := func(prefix string, i int) string { return fmt.Sprintf("%s:%d", prefix, i%keys) }
	load := func(i int) Quote { return quote(i % keys) }

	// tradecache, with its defaults.
	quiet := false
	tc, err := tradecache.New(ctx, tradecache.Config{LogSlowOps: &quiet, MarketDataTTL: time.Hour,
		Redis: tradecache.RedisConfig{Host: "127.0.0.1", Port: srv.Port}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tc.Close() })
	md := tc.Namespace(tradecache.NamespaceMarketData)

	// go-redis/cache v9 and eko/gocache v4 over go-redis with its default pool.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { rdb.Close() })
	grc := rediscache.New(&rediscache.Options{Redis: rdb})
	eko := marshaler.New(gocache.New[any](gocacheredis.NewRedis(rdb)))

	// go-redis with auto-pipelining, and raw rueidis, on encoded bytes.
	auto := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { auto.Close() })
	ap, err := auto.AutoPipeline()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ap.Close() })
	rue, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(rue.Close)
	cd, _ := codec.New(codec.Options{})
	enc, _ := cd.Marshal("", quote(0))

	for i := range keys {
		q := quote(i)
		if err := md.Set(ctx, fmt.Sprintf("%d", i), q, time.Hour); err != nil {
			b.Fatal(err)
		}
		if _, _, err := tradecache.GetOrLoad(ctx, md, fmt.Sprintf("gol:%d", i), func(context.Context) (Quote, error) { return q, nil }); err != nil {
			b.Fatal(err)
		}
		if err := grc.Set(&rediscache.Item{Ctx: ctx, Key: key("grc", i), Value: q, TTL: time.Hour}); err != nil {
			b.Fatal(err)
		}
		if err := eko.Set(ctx, key("eko", i), q, libstore.WithExpiration(time.Hour)); err != nil {
			b.Fatal(err)
		}
		rdb.Set(ctx, key("raw", i), enc, time.Hour)
	}
	return []client{
		{
			name: "tradecache",
			get: func(ctx context.Context, i int) error {
				var q Quote
				found, err := md.Get(ctx, fmt.Sprintf("%d", i%keys), &q)
				if err == nil && !found {
					err = fmt.Errorf("miss")
				}
				return err
			},
			set: func(ctx context.Context, i int) error {
				return md.Set(ctx, fmt.Sprintf("%d", i%keys), quote(i%keys), 0)
			},
			getOrLoad: func(ctx context.Context, i int) error {
				_, _, err := tradecache.GetOrLoad(ctx, md, fmt.Sprintf("gol:%d", i%keys), func(context.Context) (Quote, error) { return load(i), nil })
				return err
			},
		},
		{
			name: "go-redis/cache",
			get: func(ctx context.Context, i int) error {
				var q Quote
				return grc.Get(ctx, key("grc", i), &q)
			},
			set: func(ctx context.Context, i int) error {
				return grc.Set(&rediscache.Item{Ctx: ctx, Key: key("grc", i), Value: quote(i % keys), TTL: time.Hour})
			},
			getOrLoad: func(ctx context.Context, i int) error {
				var q Quote
				return grc.Once(&rediscache.Item{Ctx: ctx, Key: key("grc", i), Value: &q, TTL: time.Hour,
					Do: func(*rediscache.Item) (any, error) { return load(i), nil }})
			},
		},
		{
			name: "eko/gocache",
			get: func(ctx context.Context, i int) error {
				var q Quote
				_, err := eko.Get(ctx, key("eko", i), &q)
				return err
			},
			set: func(ctx context.Context, i int) error {
				return eko.Set(ctx, key("eko", i), quote(i%keys), libstore.WithExpiration(time.Hour))
			},
		},
		{
			name: "go-redis-autopipeline",
			get:  func(ctx context.Context, i int) error { return ap.Get(ctx, key("raw", i)).Err() },
			set:  func(ctx context.Context, i int) error { return ap.Set(ctx, key("raw", i), enc, time.Hour).Err() },
		},
		{
			name: "raw-rueidis",
			get: func(ctx context.Context, i int) error {
				return rue.Do(ctx, rue.B().Get().Key(key("raw", i)).Build()).Error()
			},
			set: func(ctx context.Context, i int) error {
				return rue.Do(ctx, rue.B().Set().Key(key("raw", i)).Value(rueidis.BinaryString(enc)).ExSeconds(3600).Build()).Error()
			},
		},
	}
}

// run times op serially or at 50 goroutines and reports p99.
func run(b *testing.B, parallel bool, op func(ctx context.Context, i int) error) {
	ctx := context.Background()
	var h hist.Histogram
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(max(1, 50/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				t0 := time.Now()
				if err := op(ctx, i); err != nil {
					b.Error(err)
					return
				}
				h.Record(time.Since(t0))
			}
		})
	} else {
		for i := 0; b.Loop(); i++ {
			t0 := time.Now()
			if err := op(ctx, i); err != nil {
				b.Fatal(err)
			}
			h.Record(time.Since(t0))
		}
	}
	b.ReportMetric(float64(h.Quantile(0.99))/1e3, "p99-µs")
}

func BenchmarkPeers(b *testing.B) {
	clients := setup(b)
	for _, wl := range []string{"Get", "Set", "GetOrLoad"} {
		for _, c := range clients {
			op := map[string]func(context.Context, int) error{"Get": c.get, "Set": c.set, "GetOrLoad": c.getOrLoad}[wl]
			if op == nil {
				continue
			}
			for _, mode := range []string{"serial", "parallel50"} {
				b.Run(wl+"/"+c.name+"/"+mode, func(b *testing.B) { run(b, mode == "parallel50", op) })
			}
		}
	}
}
