package feed_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/trading"
	"github.com/tradecache/tradecache/trading/feed"
)

// The feed beside raw rueidis XADD and XREAD on the same server, in one
// run: compare the ratios. The feed does more per publish than a raw XADD
// (a version check, the last value and its version key, the previous
// entry's ID, retention, in one Lua script), and the benchmark says what
// that costs.

func benchSetup(b *testing.B) (*feed.Feed, rueidis.Client, []byte) {
	srv := redistest.Start(b)
	off := false
	c, err := tradecache.New(context.Background(), tradecache.Config{Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr},
		LogSlowOps: &off, PublishStats: &off})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(raw.Close)
	cd, _ := codec.New(codec.Options{})
	env, _ := cd.Marshal("k", quote("RAW", 1))
	return feed.New(c, feed.Options{Block: 50 * time.Millisecond}), raw, env
}

// seq grows across the runs of a benchmark function, so that every
// publish is applied.
var seq uint64

func BenchmarkPublish(b *testing.B) {
	f, raw, env := benchSetup(b)
	ctx := context.Background()
	b.Run("tradecache", func(b *testing.B) {
		for range b.N {
			seq++
			if _, err := f.Publish(ctx, quote("BENCH", seq)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw_xadd", func(b *testing.B) {
		for i := range b.N {
			cmd := raw.B().Xadd().Key("raw").Maxlen().Almost().Threshold("10000").Id("*").FieldValue().
				FieldValue("v", fmt.Sprint(i)).FieldValue("d", rueidis.BinaryString(env)).Build()
			if err := raw.Do(ctx, cmd).Error(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPublishParallel: 50 goroutines publishing, each its own
// symbol (as a feed handler per instrument does), beside 50 goroutines of
// raw XADD MAXLEN ~ on 50 streams. Run with -cpu to vary GOMAXPROCS; the
// goroutines are 50 whatever it is.
func BenchmarkPublishParallel(b *testing.B) {
	f, raw, env := benchSetup(b)
	ctx := context.Background()
	const workers = 50
	run := func(b *testing.B, one func(w int, i uint64) error) {
		var next atomic.Uint64
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		b.ResetTimer()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1)
					if i > uint64(b.N) {
						return
					}
					if err := one(w, i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
	}
	var base atomic.Uint64
	b.Run("tradecache", func(b *testing.B) {
		start := base.Add(uint64(b.N) + 1) // versions above every earlier run's
		run(b, func(w int, i uint64) error {
			_, err := f.Publish(ctx, quote(fmt.Sprintf("P%02d", w), start+i))
			return err
		})
	})
	b.Run("raw_xadd", func(b *testing.B) {
		run(b, func(w int, i uint64) error {
			return raw.Do(ctx, raw.B().Xadd().Key(fmt.Sprintf("raw%02d", w)).Maxlen().Almost().Threshold("10000").Id("*").FieldValue().
				FieldValue("v", strconv.FormatUint(i, 10)).FieldValue("d", rueidis.BinaryString(env)).Build()).Error()
		})
	})
}

func BenchmarkPublishBatch50(b *testing.B) {
	f, raw, env := benchSetup(b)
	ctx := context.Background()
	qs := make([]trading.Quote, 50)
	b.Run("tradecache", func(b *testing.B) {
		for range b.N {
			seq++
			for j := range qs {
				qs[j] = quote(fmt.Sprintf("B%02d", j), seq)
			}
			if _, err := f.PublishMany(ctx, qs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(qs))/b.Elapsed().Seconds(), "quotes/s")
	})
	b.Run("raw_xadd", func(b *testing.B) {
		cmds := make(rueidis.Commands, 50)
		for i := range b.N {
			for j := range cmds {
				cmds[j] = raw.B().Xadd().Key(fmt.Sprintf("raw%02d", j)).Maxlen().Almost().Threshold("10000").Id("*").FieldValue().
					FieldValue("v", fmt.Sprint(i)).FieldValue("d", rueidis.BinaryString(env)).Build()
			}
			for _, r := range raw.DoMulti(ctx, cmds...) {
				if r.Error() != nil {
					b.Fatal(r.Error())
				}
			}
		}
		b.ReportMetric(float64(b.N*len(cmds))/b.Elapsed().Seconds(), "quotes/s")
	})
}

// BenchmarkPublishToReceive: from a publish to a subscriber holding the
// update, one at a time, with p50 and p99.
func BenchmarkPublishToReceive(b *testing.B) {
	f, raw, env := benchSetup(b)
	report := func(b *testing.B, lat []time.Duration) {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50_µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99_µs")
	}
	b.Run("tradecache", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got := make(chan struct{}, 1)
		ready := make(chan struct{})
		sym := fmt.Sprint("LAT", time.Now().UnixNano())          // each run of the function its own
		if _, err := f.Publish(ctx, quote(sym, 1)); err != nil { // the snapshot the subscriber starts from
			b.Fatal(err)
		}
		go func() {
			defer close(got) // a subscriber that ends must not leave the loop below waiting
			for u, err := range f.Subscribe(ctx, []string{sym}) {
				if err != nil {
					if ctx.Err() == nil {
						b.Errorf("subscribe: %v", err)
					}
					return
				}
				if u.Snapshot {
					close(ready)
					continue
				}
				got <- struct{}{}
			}
		}()
		<-ready
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			if _, err := f.Publish(ctx, quote(sym, uint64(i+2))); err != nil {
				b.Fatal(err)
			}
			<-got
			lat = append(lat, time.Since(t0))
		}
		report(b, lat)
	})
	b.Run("raw_xadd_xread", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got := make(chan struct{}, 1)
		// From an explicit ID, not "$": an XADD that lands between two
		// XREAD BLOCK calls would be missed by "$", and the loop below
		// would wait for it for ever (it once did).
		last, err := raw.Do(ctx, raw.B().Xadd().Key("rawlat").Id("*").FieldValue().FieldValue("d", "start").Build()).ToString()
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for ctx.Err() == nil {
				m, err := raw.Do(ctx, raw.B().Xread().Count(100).Block(50).Streams().Key("rawlat").Id(last).Build()).AsXRead()
				if err != nil {
					continue
				}
				for _, e := range m["rawlat"] {
					last = e.ID
					got <- struct{}{}
				}
			}
		}()
		time.Sleep(100 * time.Millisecond) // the reader is waiting
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			t0 := time.Now()
			if err := raw.Do(ctx, raw.B().Xadd().Key("rawlat").Id("*").FieldValue().FieldValue("d", rueidis.BinaryString(env)).Build()).Error(); err != nil {
				b.Fatal(err)
			}
			<-got
			lat = append(lat, time.Since(t0))
		}
		report(b, lat)
	})
}
