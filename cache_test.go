package tradecache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/store/memstore"
	"github.com/tradecache/tradecache/store/redisstore"
)

// backend is one store the shared cases run against, with a raw view of
// what is stored so tests can check bytes, not just round trips.
type backend struct {
	name   string
	cache  *tradecache.Cache
	raw    func(t *testing.T, key string) ([]byte, bool) // raw stored bytes
	size   func(t *testing.T) int64                      // number of keys stored
	setRaw func(t *testing.T, key string, b []byte) error
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func memBackend(t *testing.T, cfg tradecache.Config) backend {
	s, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tradecache.New(testCtx(t), cfg, tradecache.WithStore(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return backend{
		name:  "memory",
		cache: c,
		raw: func(t *testing.T, key string) ([]byte, bool) {
			b, ok, err := s.Get(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			return b, ok
		},
		size: func(*testing.T) int64 { return int64(s.Len()) },
		setRaw: func(t *testing.T, key string, v []byte) error {
			return s.Set(context.Background(), key, v, time.Minute)
		},
	}
}

func rawClient(t *testing.T, addr string) rueidis.Client {
	t.Helper()
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Close)
	return rc
}

func redisBackend(t *testing.T, cfg tradecache.Config) backend {
	srv := redistest.Start(t)
	cfg.Redis = tradecache.RedisConfig{URL: "redis://" + srv.Addr}
	rc := rawClient(t, srv.Addr)
	return clientBackend(t, "redis", cfg, rc, func(t *testing.T) int64 {
		n, err := rc.Do(context.Background(), rc.B().Dbsize().Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	})
}

// topologies are the cluster and Sentinel group that the shared cases
// share; TestMain stops them.
var topologies redistest.Shared

// clientBackend is a backend whose raw view goes through rc, a rueidis
// client of the same topology, and whose size is dbsize.
func clientBackend(t *testing.T, name string, cfg tradecache.Config, rc rueidis.Client, dbsize func(t *testing.T) int64) backend {
	c := cachetest.Open(t, cfg)
	return backend{
		name:  name,
		cache: c,
		raw: func(t *testing.T, key string) ([]byte, bool) {
			b, err := rc.Do(context.Background(), rc.B().Get().Key(key).Build()).AsBytes()
			if rueidis.IsRedisNil(err) {
				return nil, false
			}
			if err != nil {
				t.Fatal(err)
			}
			return b, true
		},
		size: dbsize,
		setRaw: func(t *testing.T, key string, v []byte) error {
			return rc.Do(context.Background(), rc.B().Set().Key(key).Value(rueidis.BinaryString(v)).Build()).Error()
		},
	}
}

// clusterBackend runs on the shared six-node cluster, emptied first.
func clusterBackend(t *testing.T, cfg tradecache.Config) backend {
	cl := topologies.Cluster(t)
	cl.FlushAll(t)
	cfg.Redis = tradecache.RedisConfig{ClusterAddrs: cl.Addrs()[:2]}
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: cl.Addrs(), DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Close)
	return clientBackend(t, "cluster", cfg, rc, func(t *testing.T) int64 {
		var n int64
		for _, m := range cl.Masters() {
			v, err := redistest.Do(m, "DBSIZE")
			if err != nil {
				t.Fatal(err)
			}
			n += v.(int64)
		}
		return n
	})
}

// sentinelBackend runs on the shared Sentinel group, emptied first.
func sentinelBackend(t *testing.T, cfg tradecache.Config) backend {
	g := topologies.Sentinel(t)
	g.FlushAll(t)
	cfg.Redis = tradecache.RedisConfig{SentinelAddrs: g.Addrs(), SentinelMaster: redistest.MasterName}
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: g.Addrs(), DisableCache: true,
		Sentinel: rueidis.SentinelOption{MasterSet: redistest.MasterName}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Close)
	return clientBackend(t, "sentinel", cfg, rc, func(t *testing.T) int64 {
		n, err := rc.Do(context.Background(), rc.B().Dbsize().Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	})
}

// eachBackend runs fn against the in-memory store and real Redis on each
// topology: one server, a Sentinel group and a Redis Cluster.
func eachBackend(t *testing.T, cfg tradecache.Config, fn func(t *testing.T, b backend)) {
	// These tests are about what the layer does, not its bounds: a
	// make test beside three CPU-burning loops once saw a plain SET miss
	// the 100 ms default (TestLargeValueIsCompressed). A test of a bound
	// sets its own.
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = 2 * time.Second
	}
	if cfg.BatchTimeout == 0 {
		cfg.BatchTimeout = 5 * time.Second
	}
	t.Run("memory", func(t *testing.T) { fn(t, memBackend(t, cfg)) })
	t.Run("redis", func(t *testing.T) { fn(t, redisBackend(t, cfg)) })
	t.Run("sentinel", func(t *testing.T) { fn(t, sentinelBackend(t, cfg)) })
	t.Run("cluster", func(t *testing.T) { fn(t, clusterBackend(t, cfg)) })
}

func TestDecimalsKeepTheirString(t *testing.T) {
	eachBackend(t, tradecache.Config{}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		for i, s := range []string{"150.00", "-0.0001", "12345678901234567890.123456789", "0E-8"} {
			in := decimal.RequireFromString(s)
			key := fmt.Sprintf("d%d", i)
			if err := b.cache.Set(ctx, key, in, 0); err != nil {
				t.Fatal(err)
			}
			var out decimal.Decimal
			if found, err := b.cache.Get(ctx, key, &out); err != nil || !found {
				t.Fatalf("Get(%s) = %v, %v", key, found, err)
			}
			if out.Exponent() != in.Exponent() || out.Coefficient().Cmp(in.Coefficient()) != 0 {
				t.Fatalf("%s came back as %s (coefficient %s, exponent %d)", s, out, out.Coefficient(), out.Exponent())
			}
			want := s
			if s == "0E-8" {
				want = "0.00000000" // shopspring's plain form of 0E-8
			}
			if got := out.StringFixed(-out.Exponent()); got != want {
				t.Fatalf("%s came back as %q", s, got)
			}
		}
	})
}

func TestTimeKeepsZoneAndNanoseconds(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	in := time.Date(2026, 11, 26, 9, 30, 0, 123456789, ny)
	eachBackend(t, tradecache.Config{}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		type trade struct {
			At    time.Time       `json:"at"`
			Price decimal.Decimal `json:"price"`
		}
		if err := b.cache.Set(ctx, "t", trade{At: in, Price: decimal.RequireFromString("101.10")}, 0); err != nil {
			t.Fatal(err)
		}
		var out trade
		if _, err := b.cache.Get(ctx, "t", &out); err != nil {
			t.Fatal(err)
		}
		_, inOff := in.Zone()
		name, outOff := out.At.Zone()
		if !out.At.Equal(in) || outOff != inOff || out.At.Nanosecond() != 123456789 || out.At.Location().String() != "America/New_York" {
			t.Fatalf("time came back as %v (%s, offset %d)", out.At, name, outOff)
		}
		if out.Price.String() != "101.1" || out.Price.StringFixed(2) != "101.10" || out.Price.Exponent() != -2 {
			t.Fatalf("price came back as %v", out.Price)
		}
	})
}

func TestLargeValueIsCompressed(t *testing.T) {
	eachBackend(t, tradecache.Config{}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		var sb strings.Builder
		for sb.Len() < 1<<20 {
			fmt.Fprintf(&sb, "AAPL,%d,150.00,100;", sb.Len())
		}
		in := []byte(sb.String()[:1<<20])
		if err := b.cache.Set(ctx, "big", in, 0); err != nil {
			t.Fatal(err)
		}
		stored, ok := b.raw(t, "trading:default:big")
		if !ok {
			t.Fatal("value not stored under trading:default:big")
		}
		if len(stored) >= len(in)/4 {
			t.Fatalf("1 MiB compressible value stored as %d bytes (STRLEN), want well under %d", len(stored), len(in)/4)
		}
		if h, _ := codec.ParseHeader(stored); h.Compression != codec.CompressionZstd {
			t.Fatalf("stored header says compression %s", h.Compression)
		}
		var out []byte
		if _, err := b.cache.Get(ctx, "big", &out); err != nil || !bytes.Equal(out, in) {
			t.Fatalf("read back %d bytes (equal: %v), %v", len(out), bytes.Equal(out, in), err)
		}
	})
}

func TestClearNamespaceRemovesExactlyOneNamespace(t *testing.T) {
	eachBackend(t, tradecache.Config{}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		counts := map[string]int{"market_data": 4000, "portfolio": 3500, "session": 2500}
		for ns, n := range counts {
			items := make(map[string]any, n)
			for i := range n {
				items[fmt.Sprintf("k%d", i)] = i
			}
			if err := b.cache.Namespace(ns).SetMany(ctx, items, 0); err != nil {
				t.Fatal(err)
			}
		}
		// A key in another namespace that looks like it belongs to the
		// cleared one must survive: the grammar keeps them apart.
		if err := b.cache.Set(ctx, "portfolio:k1", "decoy", time.Hour); err != nil {
			t.Fatal(err)
		}
		if got := b.size(t); got != 10001 {
			t.Fatalf("stored %d keys, want 10001", got)
		}
		removed, err := b.cache.ClearNamespace(ctx, "portfolio")
		if err != nil {
			t.Fatal(err)
		}
		if removed != 3500 {
			t.Fatalf("ClearNamespace removed %d, want 3500", removed)
		}
		if got := b.size(t); got != 6501 {
			t.Fatalf("%d keys left, want 6501", got)
		}
		for ns, n := range counts {
			if ns == "portfolio" {
				continue
			}
			for _, i := range []int{0, n / 2, n - 1} {
				ttl, ok, err := b.cache.Namespace(ns).TTL(ctx, fmt.Sprintf("k%d", i))
				if err != nil || !ok {
					t.Fatalf("%s/k%d gone after clearing portfolio: %v", ns, i, err)
				}
				if policy := b.cache.Namespace(ns).DefaultTTL(); ttl > policy || ttl < policy-5*time.Second {
					t.Fatalf("%s/k%d TTL %v changed (policy %v)", ns, i, ttl, policy)
				}
			}
		}
		var decoy string
		if ok, _ := b.cache.Get(ctx, "portfolio:k1", &decoy); !ok || decoy != "decoy" {
			t.Fatal("a default-namespace key was removed by clearing the portfolio namespace")
		}
		if _, err := b.cache.ClearNamespace(ctx, "bad*ns"); !errors.Is(err, tradecache.ErrInvalidKey) {
			t.Fatalf("ClearNamespace(bad*ns) = %v, want ErrInvalidKey", err)
		}
	})
}

// countingClient counts rueidis calls: each Do or DoMulti is one round trip.
type countingClient struct {
	rueidis.Client
	calls atomic.Int64
}

func (c *countingClient) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	c.calls.Add(1)
	return c.Client.Do(ctx, cmd)
}

func (c *countingClient) DoMulti(ctx context.Context, cmds ...rueidis.Completed) []rueidis.RedisResult {
	c.calls.Add(1)
	return c.Client.DoMulti(ctx, cmds...)
}

func commandCalls(t *testing.T, rc rueidis.Client, cmd string) int64 {
	info, err := rc.Do(context.Background(), rc.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if strings.HasPrefix(line, "cmdstat_"+cmd+":calls=") {
			var n int64
			fmt.Sscanf(strings.TrimPrefix(line, "cmdstat_"+cmd+":calls="), "%d", &n)
			return n
		}
	}
	return 0
}

func TestBatchesUseOneRoundTripPerBatch(t *testing.T) {
	srv := redistest.Start(t)
	admin := rawClient(t, srv.Addr)
	for _, batch := range []int{100, 64} {
		t.Run(fmt.Sprint(batch), func(t *testing.T) {
			ctx := testCtx(t)
			cc := &countingClient{Client: rawClient(t, srv.Addr)}
			// No background health PINGs while round trips are counted.
			c := cachetest.Open(t, tradecache.Config{MaxBatchSize: batch, HealthInterval: time.Hour}, tradecache.WithStore(redisstore.NewFromClient(cc)))
			cc.calls.Store(0) // New's health PING
			admin.Do(ctx, admin.B().ConfigResetstat().Build())
			want := int64(math.Ceil(1000 / float64(batch)))
			items := make(map[string]any, 1000)
			keys := make([]string, 0, 1000)
			for i := range 1000 {
				k := fmt.Sprintf("b%d:k%d", batch, i)
				items[k] = decimal.New(int64(i), -2)
				keys = append(keys, k)
			}
			if err := c.SetMany(ctx, items, time.Minute); err != nil {
				t.Fatal(err)
			}
			if got := cc.calls.Swap(0); got != want {
				t.Fatalf("SetMany of 1000 keys with batch %d took %d round trips, want %d", batch, got, want)
			}
			if got := commandCalls(t, admin, "set"); got != 1000 {
				t.Fatalf("server saw %d SETs, want 1000", got)
			}
			got := map[string]decimal.Decimal{}
			n, err := c.GetMany(ctx, keys, &got)
			if err != nil || n != 1000 || len(got) != 1000 {
				t.Fatalf("GetMany = %d, %v (%d in map)", n, err, len(got))
			}
			if calls := cc.calls.Swap(0); calls != want {
				t.Fatalf("GetMany of 1000 keys took %d round trips, want %d", calls, want)
			}
			if mget := commandCalls(t, admin, "mget"); mget != want {
				t.Fatalf("server saw %d MGETs, want %d", mget, want)
			}
			for i, k := range keys {
				if v := got[k]; v.Exponent() != -2 || v.Coefficient().Int64() != int64(i) {
					t.Fatalf("%s = %v", k, v)
				}
			}
		})
	}
}

func TestBadKeysFailBeforeAnythingIsWritten(t *testing.T) {
	eachBackend(t, tradecache.Config{MaxKeyLength: 32}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		bad := map[string]string{
			"empty":      "",
			"space":      "AAPL US",
			"tab":        "a\tb",
			"newline":    "a\nb",
			"nul":        "a\x00b",
			"del":        "a\x7fb",
			"nbsp":       "a\u00a0b",
			"zero-width": "a\u200bb",
			"bad utf-8":  "a\xffb",
			"too long":   strings.Repeat("k", 33),
		}
		for name, key := range bad {
			err := b.cache.Set(ctx, key, 1, 0)
			var ke *tradecache.KeyError
			if !errors.Is(err, tradecache.ErrInvalidKey) || !errors.As(err, &ke) || ke.Op != "set" || ke.Namespace != "default" {
				t.Errorf("%s: Set = %v, want a *KeyError", name, err)
			}
			if _, err := b.cache.Get(ctx, key, new(int)); !errors.Is(err, tradecache.ErrInvalidKey) {
				t.Errorf("%s: Get = %v, want ErrInvalidKey", name, err)
			}
		}
		items := map[string]any{"good1": 1, "good2": 2, "bad key": 3}
		if err := b.cache.SetMany(ctx, items, 0); !errors.Is(err, tradecache.ErrInvalidKey) {
			t.Fatalf("SetMany with one bad key = %v", err)
		}
		if err := b.cache.Namespace("no:colons").Set(ctx, "k", 1, 0); !errors.Is(err, tradecache.ErrInvalidKey) {
			t.Fatalf("bad namespace: %v", err)
		}
		if err := b.cache.Set(ctx, "ok", make(chan int), 0); err == nil {
			t.Fatal("Set(chan) succeeded")
		} else if se := (*tradecache.SerializationError)(nil); !errors.As(err, &se) || se.Key != "ok" || se.Op != "set" {
			t.Fatalf("Set(chan) = %v, want a *SerializationError naming the key", err)
		}
		if err := b.cache.SetMany(ctx, map[string]any{"a": 1, "b": func() {}}, 0); err == nil {
			t.Fatal("SetMany with an unencodable value succeeded")
		}
		if err := b.cache.Set(ctx, "neg", 1, -time.Second); !errors.Is(err, tradecache.ErrInvalidArgument) {
			t.Fatalf("negative TTL: %v", err)
		}
		if n := b.size(t); n != 0 {
			t.Fatalf("rejected calls wrote %d keys", n)
		}
		if _, err := b.cache.Get(ctx, "ok", 5); !errors.Is(err, tradecache.ErrInvalidArgument) {
			t.Fatalf("Get into a non-pointer: %v", err)
		}
		if _, err := b.cache.GetMany(ctx, []string{"ok"}, map[string]int{}); !errors.Is(err, tradecache.ErrInvalidArgument) {
			t.Fatalf("GetMany into a non-pointer: %v", err)
		}
		// Colons and non-ASCII printable keys are fine.
		for _, k := range []string{"AAPL:1m", "ÄPFEL", strings.Repeat("k", 32)} {
			if err := b.cache.Set(ctx, k, 1, 0); err != nil {
				t.Fatalf("Set(%q) = %v", k, err)
			}
		}
	})
}

func TestSingleKeyOperations(t *testing.T) {
	eachBackend(t, tradecache.Config{SessionTTL: 90 * time.Second}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		sessions := b.cache.Namespace(tradecache.NamespaceSession)
		type session struct {
			User  string   `json:"user"`
			Roles []string `json:"roles"`
		}
		in := session{User: "u1", Roles: []string{"trader"}}
		if err := sessions.Set(ctx, "tok1", in, 0); err != nil {
			t.Fatal(err)
		}
		if _, ok := b.raw(t, "trading:session:tok1"); !ok {
			t.Fatal("not stored under trading:session:tok1")
		}
		ttl, ok, err := sessions.TTL(ctx, "tok1")
		if err != nil || !ok || ttl > 90*time.Second || ttl < 85*time.Second {
			t.Fatalf("TTL = %v, %v, %v; want the 90s session policy", ttl, ok, err)
		}
		if ok, err := sessions.Expire(ctx, "tok1", time.Hour); err != nil || !ok {
			t.Fatalf("Expire = %v, %v", ok, err)
		}
		if ttl, _, _ := sessions.TTL(ctx, "tok1"); ttl < 59*time.Minute {
			t.Fatalf("TTL after Expire(1h) = %v", ttl)
		}
		if ok, err := sessions.Exists(ctx, "tok1"); err != nil || !ok {
			t.Fatalf("Exists = %v, %v", ok, err)
		}
		var out session
		if ok, err := sessions.Get(ctx, "tok1", &out); err != nil || !ok || out.User != "u1" || out.Roles[0] != "trader" {
			t.Fatalf("Get = %v, %v, %+v", ok, err, out)
		}
		if ok, err := sessions.Get(ctx, "missing", &out); err != nil || ok {
			t.Fatalf("Get(missing) = %v, %v", ok, err)
		}
		var wrong int
		var se *tradecache.SerializationError
		if _, err := sessions.Get(ctx, "tok1", &wrong); !errors.As(err, &se) || se.Key != "tok1" || se.Namespace != "session" {
			t.Fatalf("Get into the wrong type = %v, want a *SerializationError", err)
		}
		if n, err := sessions.Delete(ctx, "tok1", "missing"); err != nil || n != 1 {
			t.Fatalf("Delete = %d, %v", n, err)
		}
		if ok, _ := sessions.Exists(ctx, "tok1"); ok {
			t.Fatal("still exists after Delete")
		}
		st := b.cache.Stats(ctx)
		if st.Hits != 1 || st.Misses != 1 || st.Sets != 1 || st.Deletes != 1 || st.Errors != 1 {
			t.Fatalf("Stats = %+v", st)
		}
		if hr := st.HitRate(); hr != 0.5 {
			t.Fatalf("HitRate = %v", hr)
		}
	})
}

func TestStoreFailuresAreTyped(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t)
	c, err := tradecache.New(ctx, tradecache.Config{Redis: tradecache.RedisConfig{Host: "127.0.0.1", Port: srv.Port}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend() != "redis" {
		t.Fatalf("Backend = %q", c.Backend())
	}
	if err := c.Set(ctx, "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	c.Close()
	err = c.Set(ctx, "k", "v", 0)
	var oe *tradecache.OpError
	if !errors.Is(err, tradecache.ErrUnavailable) || !errors.As(err, &oe) || oe.Op != "set" || oe.Key != "k" {
		t.Fatalf("Set after Close = %v, want an *OpError matching ErrUnavailable", err)
	}

	port, _ := redistest.FreePort()
	_, err = tradecache.New(ctx, tradecache.Config{Redis: tradecache.RedisConfig{Host: "127.0.0.1", Port: port}})
	if !errors.Is(err, tradecache.ErrUnavailable) {
		t.Fatalf("New against a closed port = %v, want ErrUnavailable", err)
	}
	if _, err := tradecache.New(ctx, tradecache.Config{KeyPrefix: "a b"}); !errors.As(err, new(*tradecache.ConfigError)) {
		t.Fatalf("New with a bad prefix = %v, want *ConfigError", err)
	}

	short, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	c2 := cachetest.Open(t, tradecache.Config{Redis: tradecache.RedisConfig{Host: "127.0.0.1", Port: srv.Port}})
	if _, err := c2.Get(short, "k", new(string)); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, tradecache.ErrTimeout) {
		t.Fatalf("Get with an expired deadline = %v, want ErrTimeout and DeadlineExceeded", err)
	}
}

// The embedded default needs no Redis and no configuration.
func TestZeroConfigRunsInMemory(t *testing.T) {
	c := cachetest.Open(t, tradecache.Config{})
	if c.Backend() != "memory" {
		t.Fatalf("Backend = %q, want memory", c.Backend())
	}
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestCloseStopsEveryOperationButNotAGivenStore(t *testing.T) {
	ctx := testCtx(t)
	s, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := tradecache.New(ctx, tradecache.Config{}, tradecache.WithStore(s))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", 1, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	ns := c.Namespace("x")
	for name, err := range map[string]error{
		"Set":     c.Set(ctx, "k", 1, 0),
		"Get":     second(c.Get(ctx, "k", new(int))),
		"Delete":  second(c.Delete(ctx, "k")),
		"Exists":  second(c.Exists(ctx, "k")),
		"Expire":  second(c.Expire(ctx, "k", time.Second)),
		"SetMany": c.SetMany(ctx, map[string]any{"a": 1}, 0),
		"GetMany": second(c.GetMany(ctx, []string{"a"}, &map[string]int{})),
		"Clear":   second(ns.Clear(ctx)),
		"Ping":    c.Ping(ctx),
	} {
		if !errors.Is(err, tradecache.ErrUnavailable) {
			t.Errorf("%s after Close = %v, want ErrUnavailable", name, err)
		}
	}
	if _, ok, err := s.Get(ctx, "trading:default:k"); err != nil || !ok {
		t.Fatalf("closing the Cache closed or emptied a store it was given: %v, %v", ok, err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestStatsFigures(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t)
	on := true
	c := cachetest.Open(t, tradecache.Config{EnableMetrics: &on, Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr}})
	md := c.Namespace("md")
	for _, k := range []string{"AAPL", "MSFT", "GOOG"} {
		if err := md.Set(ctx, k, k, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var s string
	md.Get(ctx, "AAPL", &s)
	md.Get(ctx, "MSFT", &s)
	md.Get(ctx, "NOPE", &s)
	md.Get(ctx, "GOOG", new(int))
	st := c.Stats(ctx)
	get := st.Ops["get"]
	if get.Count != 4 || get.P50 <= 0 || get.P50 > get.P99 || get.P99 > get.Max || get.Avg <= 0 {
		t.Fatalf("get figures %+v", get)
	}
	if st.Ops["set"].Count != 3 {
		t.Fatalf("set figures %+v", st.Ops["set"])
	}
	if ns := st.Namespaces["md"]; ns.Hits != 2 || ns.Misses != 1 || ns.Sets != 3 || ns.Errors != 1 || ns.HitRate() != 2.0/3 {
		t.Fatalf("namespace figures %+v", ns)
	}
	if st.ErrorsByKind["serialization"] != 1 || st.ErrorRate != 1.0/7 {
		t.Fatalf("errors %v, rate %v", st.ErrorsByKind, st.ErrorRate)
	}
	r := st.Redis
	if r == nil || r.ConnectedClients < 1 || r.UsedMemory <= 0 || r.UsedMemoryHuman == "" || r.KeyspaceHits < 3 || r.KeyspaceMisses < 1 {
		t.Fatalf("INFO figures %+v", r)
	}
	if st.PipelinedConnections != 2 || st.BlockingPoolSize != 10 {
		t.Fatalf("connection figures %d %d", st.PipelinedConnections, st.BlockingPoolSize)
	}
	off := false
	quiet := cachetest.Open(t, tradecache.Config{EnableMetrics: &off})
	quiet.Set(ctx, "k", 1, 0)
	if st := quiet.Stats(ctx); st.Ops != nil || st.Sets != 1 {
		t.Fatalf("metrics off still recorded latencies: %+v", st)
	}
}

// Regression: a versioned value's version key must live under the
// namespace's prefix, so that ClearNamespace removes it with the value
// (it did not while the version key began with a brace), and a key whose
// braces form no hash tag is refused before anything is written.
func TestClearNamespaceRemovesVersionKeys(t *testing.T) {
	eachBackend(t, tradecache.Config{}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		ns := b.cache.Namespace("md")
		for i, k := range []string{"AAPL", "{MSFT}:bid", "a}b"} {
			if ok, err := ns.SetIfNewer(ctx, k, i, 5, time.Minute); err != nil || !ok {
				t.Fatalf("SetIfNewer(%s) = %v, %v", k, ok, err)
			}
		}
		if got := b.size(t); got != 6 {
			t.Fatalf("%d keys stored, want 6 (3 values and their versions)", got)
		}
		if _, err := ns.SetIfNewer(ctx, "{open", 1, 5, time.Minute); !errors.Is(err, tradecache.ErrInvalidKey) {
			t.Fatalf("SetIfNewer({open) = %v, want ErrInvalidKey", err)
		}
		if n, err := ns.Clear(ctx); err != nil || n != 6 {
			t.Fatalf("Clear = %d, %v; want 6", n, err)
		}
		if got := b.size(t); got != 0 {
			t.Fatalf("%d keys left after Clear", got)
		}
		// With the versions gone, an old version applies again.
		if ok, err := ns.SetIfNewer(ctx, "AAPL", 0, 1, time.Minute); err != nil || !ok {
			t.Fatalf("SetIfNewer after Clear = %v, %v", ok, err)
		}
	})
}

// GetMany decodes every value into a fresh zero value: nothing of one key's
// value may show through in another's (a field the next encoding omits, a
// map the next one does not mention), whatever the map's key type.
func TestGetManyValuesDoNotBleed(t *testing.T) {
	type sparse struct {
		A int               `msgpack:"a,omitempty"`
		B string            `msgpack:"b"`
		M map[string]int    `msgpack:"m,omitempty"`
		S []decimal.Decimal `msgpack:"s,omitempty"`
	}
	type symbol string
	eachBackend(t, tradecache.Config{}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		ns := b.cache.Namespace("bleed")
		in := map[string]any{
			"k1": sparse{A: 5, B: "x", M: map[string]int{"a": 1}, S: []decimal.Decimal{decimal.RequireFromString("1.50")}},
			"k2": sparse{B: "y"},
			"k3": sparse{B: "z", M: map[string]int{"b": 2}},
		}
		if err := ns.SetMany(ctx, in, 0); err != nil {
			t.Fatal(err)
		}
		keys := []string{"k1", "k2", "k3"}
		got := map[symbol]sparse{}
		if n, err := ns.GetMany(ctx, keys, &got); err != nil || n != 3 {
			t.Fatalf("GetMany = %d, %v", n, err)
		}
		if g := got["k2"]; g.A != 0 || g.M != nil || g.S != nil || g.B != "y" {
			t.Fatalf("k2 = %+v: k1's fields showed through", g)
		}
		if g := got["k3"]; fmt.Sprint(g.M) != "map[b:2]" || g.A != 0 || g.S != nil {
			t.Fatalf("k3 = %+v: another value's fields showed through", g)
		}
		if g := got["k1"]; g.A != 5 || fmt.Sprint(g.M) != "map[a:1]" || len(g.S) != 1 || g.S[0].String() != "1.5" {
			t.Fatalf("k1 = %+v", g)
		}
		// The same order reversed, into pointers.
		ptrs := map[string]*sparse{}
		if _, err := ns.GetMany(ctx, []string{"k3", "k2", "k1"}, &ptrs); err != nil {
			t.Fatal(err)
		}
		if ptrs["k2"].M != nil || ptrs["k1"] == ptrs["k3"] || ptrs["k1"].M["a"] != 1 || ptrs["k3"].M["a"] != 0 {
			t.Fatalf("pointers: k1 %+v, k2 %+v, k3 %+v", ptrs["k1"], ptrs["k2"], ptrs["k3"])
		}
	})
}

// A TTL past a century is refused before anything is written (a MaxInt64
// TTL once read back as -2562047h), and so is WithLock(-1, -1).
func TestOverlongTTLAndNegativeLockAreRefused(t *testing.T) {
	eachBackend(t, tradecache.Config{}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		ns := b.cache.Namespace("ttl")
		if err := ns.Set(ctx, "k", 1, math.MaxInt64); !errors.Is(err, tradecache.ErrInvalidArgument) {
			t.Fatalf("Set with a MaxInt64 TTL: %v", err)
		}
		if _, found, _ := ns.TTL(ctx, "k"); found {
			t.Fatal("a refused Set wrote the key")
		}
		if err := ns.Set(ctx, "k", 1, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := ns.Expire(ctx, "k", math.MaxInt64); !errors.Is(err, tradecache.ErrInvalidArgument) {
			t.Fatalf("Expire with a MaxInt64 TTL: %v", err)
		}
		if ttl, _, err := ns.TTL(ctx, "k"); err != nil || ttl <= 0 || ttl > time.Hour {
			t.Fatalf("TTL after a refused Expire: %v, %v", ttl, err)
		}
		load := func(context.Context) (int, error) { return 1, nil }
		for _, opt := range []tradecache.LoadOption{tradecache.WithLock(-1, -1), tradecache.WithTTL(math.MaxInt64), tradecache.WithMaxStale(math.MaxInt64)} {
			if _, _, err := tradecache.GetOrLoad(ctx, ns, "g", load, opt); !errors.Is(err, tradecache.ErrInvalidArgument) {
				t.Fatalf("GetOrLoad with a bad option: %v", err)
			}
		}
	})
}

// An error says "tradecache:" once, not at every layer it passed through.
func TestErrorsDoNotStutter(t *testing.T) {
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	_, err = tradecache.New(testCtx(t), tradecache.Config{Redis: tradecache.RedisConfig{Host: "127.0.0.1", Port: port}})
	if err == nil || strings.Count(err.Error(), "tradecache:") != 1 || !errors.Is(err, tradecache.ErrUnavailable) {
		t.Fatalf("connecting to a closed port: %q; want one \"tradecache:\" and ErrUnavailable", err)
	}
	c, _ := tradecache.New(testCtx(t), tradecache.Config{})
	defer c.Close()
	_ = c.Set(testCtx(t), "k", "text", 0)
	var n int
	if _, err := c.Get(testCtx(t), "k", &n); err == nil || strings.Count(err.Error(), "tradecache:") != 1 {
		t.Fatalf("decoding into the wrong type: %q", err)
	}
}

// The README's first program is examples/quickstart/main.go, word for
// word, and it runs.
func TestReadmeQuickstartIsTheExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := os.ReadFile("examples/quickstart/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("```go\n"+string(prog)+"```")) {
		t.Fatal("README.md's first program differs from examples/quickstart/main.go")
	}
	cmd := exec.Command("go", "run", "./examples/quickstart")
	cmd.Env = append(os.Environ(), "REDIS_URL=", "REDIS_HOST=", "CACHE_ENVIRONMENT=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run ./examples/quickstart: %v\n--- stdout\n%s\n--- stderr\n%s", err, out, stderr.String())
	}
	if want := "true <nil> 150.00\nNASDAQ loader <nil>\ntrue <nil>\nfalse 7\n"; string(out) != want {
		t.Fatalf("the quickstart printed\n%s\nwant\n%s", out, want)
	}
}
