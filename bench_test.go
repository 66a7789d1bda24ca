package tradecache_test

// Benchmarks against a real redis-server, with the raw rueidis client
// measured beside the full tradecache path (key checks, codec, counters) in
// the same run, serially and at 50 goroutines. Compare ratios within one
// run: the machines are noisy and client and server share two cores.
//
//	go test -run '^$' -bench . -benchtime 2s .
//
// Each benchmark also reports p99 latency (p99-µs) from a log-linear
// histogram.

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/examples/generated"
	"github.com/tradecache/tradecache/internal/hist"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/memstore"
)

type benchQuote struct {
	Symbol string          `json:"symbol"`
	Bid    decimal.Decimal `json:"bid"`
	Ask    decimal.Decimal `json:"ask"`
	BidSz  decimal.Decimal `json:"bid_size"`
	AskSz  decimal.Decimal `json:"ask_size"`
	Seq    uint64          `json:"seq"`
	At     time.Time       `json:"at"`
}

func sampleQuote(i int) benchQuote {
	return benchQuote{Symbol: fmt.Sprintf("SYM%d", i), Bid: decimal.RequireFromString("150.00"), Ask: decimal.RequireFromString("150.02"),
		BidSz: decimal.RequireFromString("300"), AskSz: decimal.RequireFromString("200"), Seq: uint64(i),
		At: time.Date(2026, 11, 26, 14, 30, 0, 123456789, time.UTC)}
}

type benchRaw struct {
	name string
	rueidis.Client
}

type benchEnv struct {
	raws  []benchRaw // rueidis with its defaults, and with tradecache's settings
	cache *tradecache.Cache
	quote []byte // the encoded quote, as raw clients store it
	addr  string // the server's
}

func setupBench(b *testing.B) *benchEnv {
	srv := redistest.Start(b)
	ctx := context.Background()
	c, err := tradecache.New(ctx, tradecache.Config{Redis: tradecache.RedisConfig{Host: "127.0.0.1", Port: srv.Port}},
		tradecache.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	var raws []benchRaw
	for _, r := range []struct {
		name string
		opt  rueidis.ClientOption
	}{
		{"raw-rueidis", rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true}},
		{"raw-rueidis-tuned", rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true,
			PipelineMultiplex: 1, MaxFlushDelay: tradecache.DefaultMaxFlushDelay}},
	} {
		raw, err := rueidis.NewClient(r.opt)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(raw.Close)
		raws = append(raws, benchRaw{r.name, raw})
	}
	cd, _ := codec.New(codec.Options{})
	q, _ := cd.Marshal("", sampleQuote(0))
	quotes := c.Namespace(tradecache.NamespaceMarketData)
	for i := range 1000 {
		if err := quotes.Set(ctx, fmt.Sprintf("k%d", i), sampleQuote(i), time.Hour); err != nil {
			b.Fatal(err)
		}
		raws[0].Do(ctx, raws[0].B().Set().Key(fmt.Sprintf("raw:k%d", i)).Value(rueidis.BinaryString(q)).Build())
		if err := quotes.Set(ctx, fmt.Sprintf("b%d", i), q, time.Hour); err != nil { // []byte: stored as is
			b.Fatal(err)
		}
	}
	return &benchEnv{raws: raws, cache: c, quote: q, addr: srv.Addr}
}

// run times op serially or at 50 goroutines and reports p99, and the
// process's own CPU time per op (cpu-µs/op: user and system, this process
// only, not redis-server's), which moves less than the wall time on a
// machine whose speed drifts: it is the per-call cost itself.
func run(b *testing.B, parallel bool, op func(i int) error) {
	var h hist.Histogram
	b.ReportAllocs()
	cpu0 := cpuTime()
	defer func() {
		b.ReportMetric(float64(cpuTime()-cpu0)/1e3/float64(b.N), "cpu-µs/op")
	}()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(max(1, 50/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				t0 := time.Now()
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
				h.Record(time.Since(t0))
				i++
			}
		})
	} else {
		for i := 0; b.Loop(); i++ {
			t0 := time.Now()
			if err := op(i); err != nil {
				b.Fatal(err)
			}
			h.Record(time.Since(t0))
		}
	}
	b.ReportMetric(float64(h.Quantile(0.99))/1e3, "p99-µs")
}

// cpuTime is this process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func modes(b *testing.B, fn func(b *testing.B, parallel bool)) {
	b.Run("serial", func(b *testing.B) { fn(b, false) })
	b.Run("parallel50", func(b *testing.B) { fn(b, true) })
}

func BenchmarkGet(b *testing.B) {
	e := setupBench(b)
	ctx := context.Background()
	quotes := e.cache.Namespace(tradecache.NamespaceMarketData)
	for _, raw := range e.raws {
		b.Run(raw.name, func(b *testing.B) {
			modes(b, func(b *testing.B, p bool) {
				run(b, p, func(i int) error {
					_, err := raw.Do(ctx, raw.B().Get().Key(fmt.Sprintf("raw:k%d", i%1000)).Build()).AsBytes()
					return err
				})
			})
		})
	}
	// The fastest raw client doing the same job: GET, then decode the
	// quote with the same codec. What tradecache costs beyond it is its
	// own (key checks, breaker, deadline, counters).
	cd, _ := codec.New(codec.Options{})
	tuned := e.raws[len(e.raws)-1]
	b.Run(tuned.name+"+decode", func(b *testing.B) {
		modes(b, func(b *testing.B, p bool) {
			run(b, p, func(i int) error {
				bs, err := tuned.Do(ctx, tuned.B().Get().Key(fmt.Sprintf("raw:k%d", i%1000)).Build()).AsBytes()
				if err != nil {
					return err
				}
				var q benchQuote
				return cd.Unmarshal("", bs, &q)
			})
		})
	})
	b.Run("tradecache", func(b *testing.B) {
		modes(b, func(b *testing.B, p bool) {
			run(b, p, func(i int) error {
				var q benchQuote
				found, err := quotes.Get(ctx, fmt.Sprintf("k%d", i%1000), &q)
				if err == nil && !found {
					err = fmt.Errorf("k%d missing", i%1000)
				}
				return err
			})
		})
	})
	// The same quotes into a type with generated canonical methods.
	b.Run("tradecache-generated", func(b *testing.B) {
		modes(b, func(b *testing.B, p bool) {
			run(b, p, func(i int) error {
				var q generated.Tick
				found, err := quotes.Get(ctx, fmt.Sprintf("k%d", i%1000), &q)
				if err == nil && !found {
					err = fmt.Errorf("k%d missing", i%1000)
				}
				return err
			})
		})
	})
	// Raw bytes, as the raw clients above read them: the layer's own
	// per-call cost, with no decoding on either side.
	b.Run("tradecache-bytes", func(b *testing.B) {
		modes(b, func(b *testing.B, p bool) {
			run(b, p, func(i int) error {
				var v []byte
				found, err := quotes.Get(ctx, fmt.Sprintf("b%d", i%1000), &v)
				if err == nil && !found {
					err = fmt.Errorf("b%d missing", i%1000)
				}
				return err
			})
		})
	})
}

func BenchmarkSet(b *testing.B) {
	e := setupBench(b)
	ctx := context.Background()
	quotes := e.cache.Namespace(tradecache.NamespaceMarketData)
	q := sampleQuote(1)
	for _, raw := range e.raws {
		b.Run(raw.name, func(b *testing.B) {
			modes(b, func(b *testing.B, p bool) {
				run(b, p, func(i int) error {
					return raw.Do(ctx, raw.B().Set().Key(fmt.Sprintf("raw:k%d", i%1000)).Value(rueidis.BinaryString(e.quote)).ExSeconds(3600).Build()).Error()
				})
			})
		})
	}
	b.Run("tradecache", func(b *testing.B) {
		modes(b, func(b *testing.B, p bool) {
			run(b, p, func(i int) error { return quotes.Set(ctx, fmt.Sprintf("k%d", i%1000), q, 0) })
		})
	})
}

func BenchmarkGetMany100(b *testing.B) {
	e := setupBench(b)
	ctx := context.Background()
	quotes := e.cache.Namespace(tradecache.NamespaceMarketData)
	keys := make([]string, 100)
	rawKeys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i*7%1000)
		rawKeys[i] = "raw:" + keys[i]
	}
	for _, raw := range e.raws {
		b.Run(raw.name+"-MGET", func(b *testing.B) {
			modes(b, func(b *testing.B, p bool) {
				run(b, p, func(int) error {
					_, err := raw.Do(ctx, raw.B().Mget().Key(rawKeys...).Build()).AsStrSlice()
					return err
				})
				b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "keys/s")
			})
		})
	}
	// The raw client doing the same job: MGET, then decode every quote
	// with the same codec into a map. Beside it, tradecache's own cost
	// (key checks, breaker, counters, reflection) is what remains.
	cd, _ := codec.New(codec.Options{})
	raw := e.raws[0]
	b.Run("raw-rueidis-MGET+decode", func(b *testing.B) {
		modes(b, func(b *testing.B, p bool) {
			run(b, p, func(int) error {
				vals, err := raw.Do(ctx, raw.B().Mget().Key(rawKeys...).Build()).ToArray()
				if err != nil {
					return err
				}
				out := make(map[string]benchQuote, len(keys))
				for i, v := range vals {
					bs, err := v.AsBytes()
					if err != nil {
						return err
					}
					var q benchQuote
					if err := cd.Unmarshal("", bs, &q); err != nil {
						return err
					}
					out[keys[i]] = q
				}
				return nil
			})
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "keys/s")
		})
	})
	b.Run("tradecache", func(b *testing.B) { benchGetMany(b, quotes, keys) })
	// The same values read as a struct with generated canonical methods
	// (examples/generated.Tick has benchQuote's fields): no reflection.
	b.Run("tradecache-generated", func(b *testing.B) {
		modes(b, func(b *testing.B, p bool) {
			run(b, p, func(int) error {
				out := make(map[string]generated.Tick, len(keys))
				n, err := quotes.GetMany(ctx, keys, &out)
				if err == nil && n != len(keys) {
					err = fmt.Errorf("GetMany found %d of %d", n, len(keys))
				}
				return err
			})
			b.ReportMetric(float64(b.N*len(keys))/b.Elapsed().Seconds(), "keys/s")
		})
	})
	// The same values through typed handles: no reflection over the map,
	// and with generated methods none in the decoding either.
	b.Run("tradecache-handle", func(b *testing.B) {
		benchHandleGetMany(b, tradecache.OfNamespace[benchQuote](quotes), keys)
	})
	b.Run("tradecache-handle-generated", func(b *testing.B) {
		benchHandleGetMany(b, tradecache.OfNamespace[generated.Tick](quotes), keys)
	})
	// The same batch through a near tier (market data's intended setup):
	// held quotes are served decoded, without a round trip.
	b.Run("tradecache-near", func(b *testing.B) {
		benchGetManyNear(b, tradecache.RedisConfig{URL: "redis://" + e.addr}, keys)
	})
}

// benchHandleGetMany measures a typed handle's GetMany of keys, and
// reports keys/s.
func benchHandleGetMany[T any](b *testing.B, h tradecache.Handle[T], keys []string) {
	ctx := context.Background()
	modes(b, func(b *testing.B, p bool) {
		run(b, p, func(int) error {
			out, err := h.GetMany(ctx, keys)
			if err == nil && len(out) != len(keys) {
				err = fmt.Errorf("GetMany found %d of %d", len(out), len(keys))
			}
			return err
		})
		b.ReportMetric(float64(b.N*len(keys))/b.Elapsed().Seconds(), "keys/s")
	})
}

// benchGetManyNear measures GetManyNear of keys through a market-data
// near tier on rc, and reports keys/s.
func benchGetManyNear(b *testing.B, rc tradecache.RedisConfig, keys []string) {
	ctx := context.Background()
	// Quiet: 50 goroutines of in-process hits can starve the health
	// check's PING past its bound, and its warning would split the
	// benchmark's result line.
	near, err := tradecache.New(ctx, tradecache.Config{LogSlowOps: new(bool), Redis: rc,
		Namespaces: map[string]tradecache.NamespaceConfig{tradecache.NamespaceMarketData: {Near: &tradecache.NearConfig{}}}},
		tradecache.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	defer near.Close()
	quotes := near.Namespace(tradecache.NamespaceMarketData)
	modes(b, func(b *testing.B, p bool) {
		run(b, p, func(int) error {
			out, err := tradecache.GetManyNear[benchQuote](ctx, quotes, keys)
			if err == nil && len(out) != len(keys) {
				err = fmt.Errorf("GetManyNear found %d of %d", len(out), len(keys))
			}
			return err
		})
		b.ReportMetric(float64(b.N*len(keys))/b.Elapsed().Seconds(), "keys/s")
	})
}

// BenchmarkGetOrLoadHit compares GetOrLoad's hit path with a plain Get of
// the same quote, in one run, on Redis and on the in-memory store (where
// the layer's own cost is not hidden behind a network round trip).
func BenchmarkGetOrLoadHit(b *testing.B) {
	srv := redistest.Start(b)
	ctx := context.Background()
	// Benchmarks measure, they do not log; the TTL comes from the policy.
	quiet := tradecache.Config{LogSlowOps: new(bool), MarketDataTTL: time.Hour}
	cfg := quiet
	cfg.Redis = tradecache.RedisConfig{Host: "127.0.0.1", Port: srv.Port}
	onRedis, err := tradecache.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer onRedis.Close()
	inMemory, err := tradecache.New(ctx, quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer inMemory.Close()
	load := func(context.Context) (benchQuote, error) { return sampleQuote(1), nil }
	for _, c := range []*tradecache.Cache{onRedis, inMemory} {
		ns := c.Namespace(tradecache.NamespaceMarketData)
		for i := range 1000 {
			key := fmt.Sprintf("k%d", i)
			if err := ns.Set(ctx, "plain:"+key, sampleQuote(i), time.Hour); err != nil {
				b.Fatal(err)
			}
			if _, _, err := tradecache.GetOrLoad(ctx, ns, key, load); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(c.Backend()+"/Get", func(b *testing.B) {
			modes(b, func(b *testing.B, p bool) {
				run(b, p, func(i int) error {
					var q benchQuote
					_, err := ns.Get(ctx, fmt.Sprintf("plain:k%d", i%1000), &q)
					return err
				})
			})
		})
		b.Run(c.Backend()+"/GetOrLoad", func(b *testing.B) {
			modes(b, func(b *testing.B, p bool) {
				run(b, p, func(i int) error {
					_, meta, err := tradecache.GetOrLoad(ctx, ns, fmt.Sprintf("k%d", i%1000), load)
					if err == nil && meta.Source != tradecache.SourceStore {
						err = fmt.Errorf("miss: %+v", meta)
					}
					return err
				})
			})
		})
	}
}

// BenchmarkMetricsOnOff is Get at 50 goroutines with EnableMetrics on and
// off, in one run: recording must cost little.
func BenchmarkMetricsOnOff(b *testing.B) {
	srv := redistest.Start(b)
	ctx := context.Background()
	for _, on := range []bool{false, true} {
		cfg := tradecache.Config{EnableMetrics: &on, LogSlowOps: new(bool), Redis: tradecache.RedisConfig{Host: "127.0.0.1", Port: srv.Port}}
		c, err := tradecache.New(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		ns := c.Namespace(tradecache.NamespaceMarketData)
		for i := range 1000 {
			if err := ns.Set(ctx, fmt.Sprintf("k%d", i), sampleQuote(i), time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			run(b, true, func(i int) error {
				var q benchQuote
				_, err := ns.Get(ctx, fmt.Sprintf("k%d", i%1000), &q)
				return err
			})
		})
		c.Close()
	}
}

// BenchmarkCluster measures Get and a 100-key GetMany on a six-node
// cluster, beside a raw rueidis cluster client: its GET, and its MGet
// helper, which like tradecache's GetMany splits the keys by slot.
//
//	go test -run '^$' -bench BenchmarkCluster -benchtime 2s .
func BenchmarkCluster(b *testing.B) {
	cl := redistest.StartCluster(b)
	ctx := context.Background()
	c, err := tradecache.New(ctx, tradecache.Config{LogSlowOps: new(bool), Redis: tradecache.RedisConfig{ClusterAddrs: cl.Addrs()}},
		tradecache.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: cl.Addrs(), DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	cd, _ := codec.New(codec.Options{})
	q, _ := cd.Marshal("", sampleQuote(0))
	quotes := c.Namespace(tradecache.NamespaceMarketData)
	keys, rawKeys := make([]string, 100), make([]string, 100)
	for i := range 1000 {
		if err := quotes.Set(ctx, fmt.Sprintf("k%d", i), sampleQuote(i), time.Hour); err != nil {
			b.Fatal(err)
		}
		if err := raw.Do(ctx, raw.B().Set().Key(fmt.Sprintf("raw:k%d", i)).Value(rueidis.BinaryString(q)).Build()).Error(); err != nil {
			b.Fatal(err)
		}
	}
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i*7%1000)
		rawKeys[i] = "raw:" + keys[i]
	}
	b.Run("Get/raw-rueidis", func(b *testing.B) {
		modes(b, func(b *testing.B, p bool) {
			run(b, p, func(i int) error {
				return raw.Do(ctx, raw.B().Get().Key(rawKeys[i%100]).Build()).Error()
			})
		})
	})
	b.Run("Get/tradecache", func(b *testing.B) {
		modes(b, func(b *testing.B, p bool) {
			run(b, p, func(i int) error {
				var v benchQuote
				_, err := quotes.Get(ctx, keys[i%100], &v)
				return err
			})
		})
	})
	b.Run("GetMany100/raw-rueidis-MGet", func(b *testing.B) {
		modes(b, func(b *testing.B, p bool) {
			run(b, p, func(int) error {
				_, err := rueidis.MGet(raw, ctx, rawKeys)
				return err
			})
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "keys/s")
		})
	})
	b.Run("GetMany100/tradecache", func(b *testing.B) { benchGetMany(b, quotes, keys) })
	b.Run("GetMany100/tradecache-near", func(b *testing.B) {
		benchGetManyNear(b, tradecache.RedisConfig{ClusterAddrs: cl.Addrs()}, keys)
	})
}

// benchGetMany measures GetMany of keys (100 of them) into quotes, and
// reports keys/s.
func benchGetMany(b *testing.B, quotes *tradecache.Namespace, keys []string) {
	ctx := context.Background()
	modes(b, func(b *testing.B, p bool) {
		run(b, p, func(int) error {
			out := make(map[string]benchQuote, len(keys))
			n, err := quotes.GetMany(ctx, keys, &out)
			if err == nil && n != len(keys) {
				err = fmt.Errorf("GetMany found %d of %d", n, len(keys))
			}
			return err
		})
		b.ReportMetric(float64(b.N*len(keys))/b.Elapsed().Seconds(), "keys/s")
	})
}

// BenchmarkGetTagged is the read cost of tags: the same quote written with
// 0, 1 and 5 tags, read with Namespace.Get, in one run. With a near tier
// configured (here on another namespace) the store tracks, and a tag's
// token is held in process: checking the tags costs map lookups, not a
// round trip. Report tagged/untagged from the same run.
func BenchmarkGetTagged(b *testing.B) {
	srv := redistest.Start(b)
	ctx := context.Background()
	c, err := tradecache.New(ctx, tradecache.Config{Redis: tradecache.RedisConfig{Host: "127.0.0.1", Port: srv.Port},
		Namespaces: map[string]tradecache.NamespaceConfig{"md": {Near: &tradecache.NearConfig{}}}},
		tradecache.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ns := c.Namespace("risk")
	tagSets := map[int][]string{0: nil, 1: {"sym:AAPL"}, 5: {"sym:AAPL", "sym:MSFT", "refdata", "model:v3", "book:eq"}}
	for _, n := range []int{0, 1, 5} {
		for i := range 1000 {
			if err := ns.Set(ctx, fmt.Sprintf("t%d:k%d", n, i), sampleQuote(i), time.Hour, tradecache.Tagged(tagSets[n]...)); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, n := range []int{0, 1, 5} {
		b.Run(fmt.Sprintf("tags%d", n), func(b *testing.B) {
			modes(b, func(b *testing.B, p bool) {
				run(b, p, func(i int) error {
					var q benchQuote
					found, err := ns.Get(ctx, fmt.Sprintf("t%d:k%d", n, i%1000), &q)
					if err == nil && !found {
						err = fmt.Errorf("t%d:k%d missing", n, i%1000)
					}
					return err
				})
			})
		})
	}
}

// instantStore answers every Get at once with the same bytes, and
// everything else as the in-memory store does: beneath the layer, so that BenchmarkGetLayer measures the layer's own work per call
// (key checks, the guard's breaker and deadline, counters, latency,
// hot-key sampling, the envelope's check and copy) without the network.
type instantStore struct {
	store.Store
	val []byte
}

func (s instantStore) Get(context.Context, string) ([]byte, bool, error) { return s.val, true, nil }

// BenchmarkGetLayer: the layer's own cost of a Get of raw bytes, serial
// and at 50 goroutines, over a store that answers at once. The raw client
// does none of this work; its whole call costs about 3.3 µs of CPU on
// these machines (BenchmarkGet, client pinned to a core of its own).
func BenchmarkGetLayer(b *testing.B) {
	cd, _ := codec.New(codec.Options{})
	env, _ := cd.Marshal("", []byte("a quote's worth of bytes, about eighty of them, as the benchmarks' quotes are"))
	mem, err := memstore.New(memstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mem.Close() })
	c, err := tradecache.New(context.Background(), tradecache.Config{Environment: tradecache.Production},
		tradecache.WithStore(instantStore{Store: mem, val: env}), tradecache.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ctx := context.Background()
	ns := c.Namespace(tradecache.NamespaceMarketData)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("b", i)
	}
	modes(b, func(b *testing.B, p bool) {
		run(b, p, func(i int) error {
			var v []byte
			_, err := ns.Get(ctx, keys[i%len(keys)], &v)
			return err
		})
	})
}
