package tradecache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/examples/generated"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/redistest"
)

// A typed handle reads and writes what its Namespace does, under the same
// keys, without a destination or an any, on the memory store and on
// Redis.
func TestHandleReadsAndWritesTypedValues(t *testing.T) {
	srv := redistest.Start(t)
	memory := cachetest.Open(t, tradecache.Config{})
	for name, c := range map[string]*tradecache.Cache{"memory": memory, "redis": redisCache(t, srv, tradecache.Config{})} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ticks := tradecache.Of[generated.Tick](c, tradecache.NamespaceMarketData)
			at := time.Date(2026, 12, 5, 14, 30, 0, 0, time.UTC)
			aapl := generated.Tick{Symbol: "AAPL", Bid: decimal.RequireFromString("150.00"), Ask: decimal.RequireFromString("150.02"), Seq: 1, At: at}
			msft := generated.Tick{Symbol: "MSFT", Bid: decimal.RequireFromString("410.10"), Seq: 2, At: at}
			if err := ticks.Set(ctx, "AAPL", aapl, time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := ticks.SetMany(ctx, map[string]generated.Tick{"MSFT": msft}, 0); err != nil {
				t.Fatal(err)
			}
			got, found, err := ticks.Get(ctx, "AAPL")
			if err != nil || !found || got.Symbol != "AAPL" || got.Bid.String() != "150" || got.Bid.Exponent() != -2 || !got.At.Equal(at) {
				t.Fatalf("Get = %+v, %v, %v", got, found, err)
			}
			if _, found, err := ticks.Get(ctx, "NOPE"); found || err != nil {
				t.Fatalf("Get of a missing key: found %v, %v", found, err)
			}
			many, err := ticks.GetMany(ctx, []string{"AAPL", "MSFT", "NOPE"})
			if err != nil || len(many) != 2 || many["MSFT"].Seq != 2 || many["AAPL"].Seq != 1 {
				t.Fatalf("GetMany = %+v, %v", many, err)
			}
			// GetManyFunc: each value found with its key's index, no map.
			keys := []string{"NOPE", "MSFT", "AAPL"}
			seqs := make([]uint64, len(keys))
			for _, each := range []func(context.Context, []string, func(int, generated.Tick)) error{ticks.GetManyFunc, ticks.GetManyNearFunc} {
				clear(seqs)
				if err := each(ctx, keys, func(i int, v generated.Tick) { seqs[i] = v.Seq }); err != nil || seqs[0] != 0 || seqs[1] != 2 || seqs[2] != 1 {
					t.Fatalf("GetManyFunc/GetManyNearFunc of %v: seqs %v, %v", keys, seqs, err)
				}
			}
			// The same value through the Namespace: one I/O path, one key.
			var viaNs generated.Tick
			if found, err := ticks.Namespace().Get(ctx, "MSFT", &viaNs); !found || err != nil || viaNs.Symbol != "MSFT" {
				t.Fatalf("Namespace.Get of a handle's write = %+v, %v, %v", viaNs, found, err)
			}
			if applied, err := ticks.SetIfNewer(ctx, "V", aapl, 5, 0); !applied || err != nil {
				t.Fatalf("SetIfNewer(5) = %v, %v", applied, err)
			}
			if applied, err := ticks.SetIfNewer(ctx, "V", msft, 4, 0); applied || err != nil {
				t.Fatalf("SetIfNewer(4) after 5 = %v, %v", applied, err)
			}
			loads := 0
			load := func(context.Context) (generated.Tick, error) { loads++; return msft, nil }
			for range 2 {
				if v, _, err := ticks.GetOrLoad(ctx, "L", load); err != nil || v.Symbol != "MSFT" {
					t.Fatalf("GetOrLoad = %+v, %v", v, err)
				}
			}
			if loads != 1 {
				t.Fatalf("GetOrLoad loaded %d times for two reads", loads)
			}
			vals, _, err := ticks.GetManyOrLoad(ctx, []string{"AAPL", "M2"}, func(_ context.Context, missing []string) (map[string]generated.Tick, error) {
				if len(missing) != 1 || missing[0] != "M2" {
					return nil, errors.New("asked for " + missing[0])
				}
				return map[string]generated.Tick{"M2": msft}, nil
			})
			if err != nil || len(vals) != 2 || vals["M2"].Symbol != "MSFT" {
				t.Fatalf("GetManyOrLoad = %+v, %v", vals, err)
			}
			if n, err := ticks.Delete(ctx, "AAPL", "MSFT"); n != 2 || err != nil {
				t.Fatalf("Delete = %d, %v", n, err)
			}
			// A bad key is refused as by the Namespace, with nothing sent.
			if _, _, err := ticks.Get(ctx, "bad key\n"); !errors.Is(err, tradecache.ErrInvalidKey) {
				t.Fatalf("Get of a bad key = %v", err)
			}
		})
	}
}
