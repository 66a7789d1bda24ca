package tradecache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/redistest"
)

func tlsCache(t *testing.T, srv *redistest.Server, r tradecache.RedisConfig) (*tradecache.Cache, error) {
	t.Helper()
	r.Host, r.Port = "127.0.0.1", srv.Port
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := tradecache.New(ctx, tradecache.Config{Redis: r})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func roundTrip(t *testing.T, c *tradecache.Cache) {
	t.Helper()
	ctx := testCtx(t)
	if err := c.Set(ctx, "tls", "over TLS", time.Minute); err != nil {
		t.Fatal(err)
	}
	var v string
	if ok, err := c.Get(ctx, "tls", &v); err != nil || !ok || v != "over TLS" {
		t.Fatalf("Get over TLS: %q %v %v", v, ok, err)
	}
}

func TestTLS(t *testing.T) {
	certs := redistest.MakeCerts(t)
	srv := redistest.StartTLS(t, certs, certs.ServerCert, certs.ServerKey, false)

	c, err := tlsCache(t, srv, tradecache.RedisConfig{SSL: true, TLSCAFile: certs.CA})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)

	// rediss:// URLs work too.
	u := cachetest.Open(t, tradecache.Config{Redis: tradecache.RedisConfig{URL: "rediss://" + srv.Addr, TLSCAFile: certs.CA}})
	roundTrip(t, u)

	// A CA that did not sign the server's certificate.
	_, err = tlsCache(t, srv, tradecache.RedisConfig{SSL: true, TLSCAFile: certs.OtherCA})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("wrong CA: %v, want a certificate error", err)
	}
	// Plaintext against the TLS port.
	start := time.Now()
	_, err = tlsCache(t, srv, tradecache.RedisConfig{})
	if err == nil || !errors.Is(err, tradecache.ErrUnavailable) {
		t.Fatalf("plaintext client on the TLS port: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("plaintext client took %v to fail", d)
	}
	// A missing CA file is a configuration error naming the variable.
	_, err = tlsCache(t, srv, tradecache.RedisConfig{SSL: true, TLSCAFile: "/nonexistent/ca.pem"})
	var ce *tradecache.ConfigError
	if !errors.As(err, &ce) || !ce.Has("REDIS_TLS_CA_FILE") {
		t.Fatalf("missing CA file: %v", err)
	}
}

func TestTLSExpiredServerCertificate(t *testing.T) {
	certs := redistest.MakeCerts(t)
	srv := redistest.StartTLS(t, certs, certs.ExpiredCert, certs.ExpiredKey, false)
	_, err := tlsCache(t, srv, tradecache.RedisConfig{SSL: true, TLSCAFile: certs.CA})
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired server certificate: %v, want an error saying it expired", err)
	}
}

func TestMutualTLS(t *testing.T) {
	certs := redistest.MakeCerts(t)
	srv := redistest.StartTLS(t, certs, certs.ServerCert, certs.ServerKey, true)
	c, err := tlsCache(t, srv, tradecache.RedisConfig{TLSCAFile: certs.CA, TLSCertFile: certs.ClientCert, TLSKeyFile: certs.ClientKey})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
	// Without a client certificate the server refuses the connection: an
	// authentication failure that says a certificate is wanted, every
	// time. (The server's alert and its reset race: before, 3 of 5 tries
	// read as "not a Redis server" and all as ErrUnavailable.)
	for i := range 5 {
		_, err := tlsCache(t, srv, tradecache.RedisConfig{TLSCAFile: certs.CA})
		if err == nil {
			t.Fatal("a client without a certificate connected to an mTLS server")
		}
		if !errors.Is(err, tradecache.ErrAuth) || errors.Is(err, tradecache.ErrUnavailable) || !strings.Contains(err.Error(), "REDIS_TLS_CERT_FILE") {
			t.Fatalf("try %d: no client certificate for an mTLS server: %v; want ErrAuth naming REDIS_TLS_CERT_FILE", i+1, err)
		}
	}
	if err := (tradecache.Config{Redis: tradecache.RedisConfig{Host: "h", TLSCertFile: certs.ClientCert}}).Validate(); err == nil {
		t.Fatal("a client certificate without its key validated")
	}
}

// aclUser may use only keys under "trading:" and may not run the commands
// a cache has no business running.
const aclUser = "app on >s3cret-acl-pass ~trading:* &* +@all -keys -flushall -flushdb -config -debug -shutdown -monitor -acl"

func TestACLRestrictedUserRunsEverything(t *testing.T) {
	srv := redistest.Start(t, redistest.Option{"user", aclUser})
	ctx := testCtx(t)
	cfg := tradecache.Config{Redis: tradecache.RedisConfig{Host: "127.0.0.1", Port: srv.Port, Username: "app", Password: "s3cret-acl-pass"}}
	c := cachetest.Open(t, cfg)
	ns := c.Namespace("portfolio")
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s as a restricted ACL user: %v", what, err)
		}
	}
	must("Set", ns.Set(ctx, "P1", 1, 0))
	_, err := ns.Get(ctx, "P1", new(int))
	must("Get", err)
	must("SetMany", ns.SetMany(ctx, map[string]any{"a": 1, "b": 2}, time.Minute))
	_, err = ns.GetMany(ctx, []string{"a", "b"}, &map[string]int{})
	must("GetMany", err)
	_, err = ns.Exists(ctx, "a")
	must("Exists", err)
	_, _, err = ns.TTL(ctx, "a")
	must("TTL", err)
	_, err = ns.Expire(ctx, "a", time.Hour)
	must("Expire", err)
	_, err = ns.Delete(ctx, "a")
	must("Delete", err)
	_, _, err = tradecache.GetOrLoad(ctx, ns, "locked", func(context.Context) (int, error) { return 1, nil }, tradecache.WithLock(time.Second, time.Second))
	must("GetOrLoad with lock", err)
	_, err = c.Namespace("portfolio").SetIfNewer(ctx, "q", 1, 3, time.Minute)
	must("SetIfNewer", err) // its version key must fall under the user's key pattern too
	_, err = c.ClearNamespace(ctx, "portfolio")
	must("ClearNamespace", err)
	must("Ping", c.Ping(ctx))
	if h := c.Health(ctx); !h.Ready {
		t.Fatalf("Health as a restricted user: %+v", h)
	}

	// Every command the library sent is on the list docs/security.md gives.
	admin := rawClient(t, srv.Addr)
	info, err := admin.Do(ctx, admin.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"get": true, "set": true, "mget": true, "unlink": true, "exists": true, "pttl": true, "pexpire": true,
		"scan": true, "ping": true, "evalsha": true, "eval": true, "publish": true, "subscribe": true, "client|setname": true, "client|setinfo": true, "hello": true, "cluster|slots": true, "cluster|shards": true,
		"info": true} // info: this check's own
	for _, line := range strings.Split(info, "\n") {
		if name, ok := strings.CutPrefix(line, "cmdstat_"); ok {
			name = name[:strings.Index(name, ":")]
			if !allowed[name] {
				t.Errorf("the library sent %q, which docs/security.md does not list", name)
			}
		}
	}

	// Outside the prefix, the ACL answers NOPERM, typed.
	other := cachetest.Open(t, tradecache.Config{KeyPrefix: "other", Redis: cfg.Redis})
	err = other.Set(ctx, "k", 1, 0)
	if !errors.Is(err, tradecache.ErrNoPermission) {
		t.Fatalf("write outside the ACL's key pattern = %v, want ErrNoPermission", err)
	}
	// A wrong password is refused at New, typed.
	bad := cfg
	bad.Redis.Password = "wrong"
	if _, err := tradecache.New(ctx, bad); !errors.Is(err, tradecache.ErrAuth) {
		t.Fatalf("wrong password = %v, want ErrAuth", err)
	}
}

// A distinctive password, encryption key and session content must not
// appear in any log line, error, Stats or formatted Config.
func TestSecretsNeverLeak(t *testing.T) {
	srv := redistest.Start(t, redistest.Option{"user", "app on >Pa55-DISTINCTIVE-pw ~trading:* &* +@all"})
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	secretKey := bytes.Repeat([]byte("K"), 32)
	cfg := tradecache.Config{
		Redis:          tradecache.RedisConfig{Host: "127.0.0.1", Port: srv.Port, Username: "app", Password: "Pa55-DISTINCTIVE-pw"},
		EncryptionKeys: []codec.Key{{ID: "k1", Secret: secretKey}},
		LogSlowOps:     new(bool),
	}
	*cfg.LogSlowOps = true
	cfg.SlowOpThreshold = time.Nanosecond // log every operation
	ctx := testCtx(t)
	c, err := tradecache.New(ctx, cfg, tradecache.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	var capture strings.Builder
	sessions := c.Namespace(tradecache.NamespaceSession)
	for i := range 5 {
		if err := sessions.Set(ctx, fmt.Sprintf("s%d", i), map[string]string{"token": "SESSION-DISTINCTIVE-token"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	var out map[string]string
	_, _ = sessions.Get(ctx, "s1", &out)
	_, err = sessions.Get(ctx, "s1", new(int)) // a decode error
	fmt.Fprintln(&capture, err)
	fmt.Fprintln(&capture, c.Set(ctx, "bad key", 1, 0))
	bad := cfg
	bad.Redis.Password = "Pa55-DISTINCTIVE-pw-but-wrong"
	_, err = tradecache.New(ctx, bad, tradecache.WithLogger(logger))
	fmt.Fprintln(&capture, err)
	logger.Info("config", "cfg", cfg)
	fmt.Fprintf(&capture, "%v %+v %#v %s\n", cfg, cfg, cfg, cfg)
	fmt.Fprintf(&capture, "%+v\n", c.Stats(ctx))
	fmt.Fprintf(&capture, "%+v\n", c.Health(ctx))
	c.Close()
	srv.Kill() // and failures while Redis is down
	c2, _ := tradecache.New(ctx, cfg, tradecache.WithLogger(logger))
	if c2 != nil {
		c2.Close()
	}
	all := capture.String() + logs.String()
	if !strings.Contains(logs.String(), "slow operation") {
		t.Fatal("nothing was logged: the capture proves nothing")
	}
	for _, secret := range []string{"DISTINCTIVE", string(secretKey), "S0tL"} {
		if strings.Contains(all, secret) {
			i := strings.Index(all, secret)
			t.Fatalf("secret %q leaked: ...%s...", secret, all[max(0, i-80):min(len(all), i+40)])
		}
	}
}

func TestInputLimits(t *testing.T) {
	eachBackend(t, tradecache.Config{MaxKeyLength: 16, MaxValueBytes: 1024, MaxBatchKeys: 5, MaxDecodedSize: 4096, CompressThreshold: -1},
		func(t *testing.T, b backend) {
			ctx := testCtx(t)
			// Key length.
			if err := b.cache.Set(ctx, strings.Repeat("k", 17), 1, 0); !errors.Is(err, tradecache.ErrInvalidKey) {
				t.Fatalf("long key: %v", err)
			}
			// Control characters.
			if err := b.cache.Set(ctx, "a\x1bb", 1, 0); !errors.Is(err, tradecache.ErrInvalidKey) {
				t.Fatalf("control character: %v", err)
			}
			// Value size.
			if err := b.cache.Set(ctx, "big", strings.Repeat("x", 2000), 0); !errors.Is(err, tradecache.ErrTooLarge) {
				t.Fatalf("2000-byte value with a 1024-byte limit: %v", err)
			}
			if err := b.cache.SetMany(ctx, map[string]any{"a": 1, "big": strings.Repeat("x", 2000)}, 0); !errors.Is(err, tradecache.ErrTooLarge) {
				t.Fatalf("SetMany with one oversized value: %v", err)
			}
			// Batch size.
			six := []string{"a", "b", "c", "d", "e", "f"}
			if _, err := b.cache.GetMany(ctx, six, &map[string]int{}); !errors.Is(err, tradecache.ErrTooLarge) {
				t.Fatalf("GetMany of 6 keys with a limit of 5: %v", err)
			}
			if _, err := b.cache.Delete(ctx, six...); !errors.Is(err, tradecache.ErrTooLarge) {
				t.Fatalf("Delete of 6 keys: %v", err)
			}
			items := map[string]any{}
			for _, k := range six {
				items[k] = 1
			}
			if err := b.cache.SetMany(ctx, items, 0); !errors.Is(err, tradecache.ErrTooLarge) {
				t.Fatalf("SetMany of 6 keys: %v", err)
			}
			if n := b.size(t); n != 0 {
				t.Fatalf("rejected calls wrote %d keys", n)
			}
			// Decompressed size: a small zstd bomb planted under a key.
			w, _ := codec.New(codec.Options{MaxExpansion: 1 << 30}) // a careless writer: compresses past any reader's bound
			bomb, _ := w.Marshal("", strings.Repeat("z", 1<<20))
			if err := b.setRaw(t, "trading:default:bomb", bomb); err != nil {
				t.Fatal(err)
			}
			var s string
			if _, err := b.cache.Get(ctx, "bomb", &s); !errors.Is(err, codec.ErrTooLarge) {
				t.Fatalf("1 MiB bomb with a 4 KiB decode limit: %v", err)
			}
		})
}

func TestRequirePass(t *testing.T) {
	srv := redistest.Start(t, redistest.Option{"requirepass", "plain-pass"})
	ctx := testCtx(t)
	c := cachetest.Open(t, tradecache.Config{Redis: tradecache.RedisConfig{URL: "redis://:plain-pass@" + srv.Addr}})
	roundTrip(t, c)
	for _, r := range []tradecache.RedisConfig{
		{Host: "127.0.0.1", Port: srv.Port},                     // none: NOAUTH
		{Host: "127.0.0.1", Port: srv.Port, Password: "not-it"}, // WRONGPASS
	} {
		if _, err := tradecache.New(ctx, tradecache.Config{Redis: r}); !errors.Is(err, tradecache.ErrAuth) {
			t.Fatalf("password %q: %v, want ErrAuth", r.Password, err)
		}
	}
}

// TestAuthOnClusterAndSentinel runs the cache with credentials on the
// scaled-out topologies: a cluster whose nodes have the recommended
// restricted ACL user (docs/security.md), and a Sentinel group whose data
// nodes and sentinels each require their own password. Wrong credentials
// fail New with ErrAuth; a key outside the user's prefix with
// ErrNoPermission.
func TestAuthOnClusterAndSentinel(t *testing.T) {
	// Parallel: it starts servers of its own and bounds no latency, so
	// it can wait on them beside the package's other such tests.
	t.Parallel()
	const acl = "app on >app-secret ~trading:* &* +@all -keys -flushall -flushdb -config -debug -shutdown -monitor -acl"
	t.Run("cluster ACL user", func(t *testing.T) {
		cl := redistest.StartCluster(t, redistest.Option{"user", acl})
		rc := tradecache.RedisConfig{ClusterAddrs: cl.Addrs(), Username: "app", Password: "app-secret"}
		c, err := newTestCache(t, tradecache.Config{Redis: rc})
		if err != nil {
			t.Fatal(err)
		}
		exerciseTopology(t, c)
		other, err := newTestCache(t, tradecache.Config{Redis: rc, KeyPrefix: "other"})
		if err != nil {
			t.Fatal(err)
		}
		if err := other.Set(testCtx(t), "k", 1, time.Minute); !errors.Is(err, tradecache.ErrNoPermission) {
			t.Fatalf("a write outside the user's prefix = %v, want ErrNoPermission", err)
		}
		rc.Password = "wrong"
		if _, err := newTestCache(t, tradecache.Config{Redis: rc}); !errors.Is(err, tradecache.ErrAuth) {
			t.Fatalf("a wrong password on a cluster = %v, want ErrAuth", err)
		}
	})

	t.Run("sentinel passwords", func(t *testing.T) {
		g := redistest.StartSentinelWith(t, redistest.SentinelOptions{DataPass: "data-secret", SentinelPass: "sentinel-secret"})
		rc := tradecache.RedisConfig{SentinelAddrs: g.Addrs(), SentinelMaster: redistest.MasterName,
			Password: "data-secret", SentinelPassword: "sentinel-secret"}
		c, err := newTestCache(t, tradecache.Config{Redis: rc})
		if err != nil {
			t.Fatal(err)
		}
		exerciseTopology(t, c)
		bad := rc
		bad.Password = "wrong"
		if _, err := newTestCache(t, tradecache.Config{Redis: bad}); !errors.Is(err, tradecache.ErrAuth) {
			t.Fatalf("a wrong data password = %v, want ErrAuth", err)
		}
		bad = rc
		bad.SentinelPassword = "wrong"
		if _, err := newTestCache(t, tradecache.Config{Redis: bad}); !errors.Is(err, tradecache.ErrAuth) {
			t.Fatalf("a wrong sentinel password = %v, want ErrAuth", err)
		}
	})
}

// exerciseTopology runs every kind of call a secured deployment must
// allow: batches, the version guard, a locked load, a clear, health.
func exerciseTopology(t *testing.T, c *tradecache.Cache) {
	ctx := testCtx(t)
	ns := c.Namespace("auth")
	items := map[string]any{}
	keys := []string{}
	for i := range 50 {
		k := fmt.Sprintf("k%d", i)
		items[k], keys = i, append(keys, k)
	}
	if err := ns.SetMany(ctx, items, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, err := ns.GetMany(ctx, keys, &map[string]int{}); err != nil || n != 50 {
		t.Fatalf("GetMany = %d, %v", n, err)
	}
	if applied, err := ns.SetIfNewer(ctx, "q", 1, 7, time.Minute); err != nil || !applied {
		t.Fatalf("SetIfNewer = %v, %v", applied, err)
	}
	if _, _, err := tradecache.GetOrLoad(ctx, ns, "locked", func(context.Context) (int, error) { return 1, nil }, tradecache.WithLock(time.Second, time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := ns.Clear(ctx); err != nil || n < 50 {
		t.Fatalf("Clear = %d, %v", n, err)
	}
	if h := c.Health(ctx); !h.Ready {
		t.Fatalf("Health = %+v", h)
	}
}

// newTestCache is tradecache.New in the testing environment, closed when
// the test ends.
func newTestCache(t *testing.T, cfg tradecache.Config) (*tradecache.Cache, error) {
	cfg.Environment = tradecache.Testing
	c, err := tradecache.New(testCtx(t), cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// TestTLSOnClusterAndSentinel runs the cache over TLS-only deployments: a
// cluster whose client port, replication and bus all use TLS, and a
// Sentinel group whose data nodes and sentinels listen only on TLS. The
// CA comes from REDIS_TLS_CA_FILE's field; a client without TLS, or one
// that trusts another CA, is refused.
func TestTLSOnClusterAndSentinel(t *testing.T) {
	// Parallel: it starts servers of its own and bounds no latency, so
	// it can wait on them beside the package's other such tests.
	t.Parallel()
	certs := redistest.MakeCerts(t)
	check := func(t *testing.T, rc tradecache.RedisConfig) {
		rc.TLSCAFile = certs.CA
		c, err := newTestCache(t, tradecache.Config{Redis: rc})
		if err != nil {
			t.Fatal(err)
		}
		exerciseTopology(t, c)
		rc.TLSCAFile = certs.OtherCA
		if _, err := newTestCache(t, tradecache.Config{Redis: rc}); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("trusting another CA = %v, want a certificate error", err)
		}
		rc.TLSCAFile = ""
		if _, err := newTestCache(t, tradecache.Config{Redis: rc}); err == nil {
			t.Fatal("a plaintext client connected to a TLS-only deployment")
		}
	}
	t.Run("cluster", func(t *testing.T) {
		cl := redistest.StartCluster(t, redistest.TLSOptions(certs)...)
		check(t, tradecache.RedisConfig{ClusterAddrs: cl.Addrs()})
	})
	t.Run("sentinel", func(t *testing.T) {
		g := redistest.StartSentinelWith(t, redistest.SentinelOptions{Certs: certs})
		check(t, tradecache.RedisConfig{SentinelAddrs: g.Addrs(), SentinelMaster: redistest.MasterName})
	})
}

// A failed encode says "encode", whatever the operation is called: Publish
// of a value the codec cannot encode said "cannot decode into chan int".
func TestSerializationErrorSaysWhichWay(t *testing.T) {
	c := cachetest.Open(t, tradecache.Config{})
	ns := c.Namespace("sx")
	_, _, err := tradecache.StreamOf(ns, "k").Publish(context.Background(), make(chan int), 1)
	var se *tradecache.SerializationError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "cannot encode chan int") {
		t.Fatalf("Publish of a chan: %v", err)
	}
	if err := ns.Set(context.Background(), "s", "x", 0); err != nil {
		t.Fatal(err)
	}
	var ch chan int
	if _, err := ns.Get(context.Background(), "s", &ch); !strings.Contains(fmt.Sprint(err), "cannot decode into") {
		t.Fatalf("Get into a chan: %v", err)
	}
}

// Each failure is one kind: a call refused before anything was sent is an
// *ArgumentError, a loader's failure a *LoadError, a remembered miss
// ErrNotFound, and only a store's failure an *OpError. Before, all four
// were *OpError, whose doc says the store failed.
func TestErrorsMeanOneThing(t *testing.T) {
	ctx := context.Background()
	c, err := tradecache.New(ctx, tradecache.Config{MaxValueBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	ns := c.Namespace("kinds")
	dbDown := errors.New("the database is down")
	var nothing int
	cases := []struct {
		name     string
		err      error
		as       string // the type errors.As must find
		is       error  // and the sentinel it must match
		notStore bool   // and it is not an *OpError
	}{
		{"negative TTL", ns.Set(ctx, "k", 1, -time.Second), "*ArgumentError", tradecache.ErrInvalidArgument, true},
		{"value over MaxValueBytes", ns.Set(ctx, "k", incompressible(4<<10), time.Minute), "*ArgumentError", tradecache.ErrTooLarge, true},
		{"loader failed", func() error {
			_, _, err := tradecache.GetOrLoad(ctx, ns, "db", func(context.Context) (int, error) { return 0, dbDown })
			return err
		}(), "*LoadError", dbDown, true},
		{"batch loader failed", func() error {
			_, _, err := tradecache.GetManyOrLoad(ctx, ns, []string{"a", "b"}, func(context.Context, []string) (map[string]int, error) { return nil, dbDown })
			return err
		}(), "*LoadError", dbDown, true},
		{"remembered miss", func() error {
			load := func(context.Context) (int, error) { return 0, tradecache.ErrNotFound }
			_, _, _ = tradecache.GetOrLoad(ctx, ns, "gone", load, tradecache.WithNegativeTTL(time.Minute))
			_, _, err := tradecache.GetOrLoad(ctx, ns, "gone", load, tradecache.WithNegativeTTL(time.Minute))
			return err
		}(), "", tradecache.ErrNotFound, true},
		{"closed", func() error {
			c.Close()
			_, err := ns.Get(ctx, "k", &nothing)
			return err
		}(), "*OpError", tradecache.ErrUnavailable, false},
	}
	for _, tc := range cases {
		var ae *tradecache.ArgumentError
		var le *tradecache.LoadError
		var oe *tradecache.OpError
		found := map[string]bool{"*ArgumentError": errors.As(tc.err, &ae), "*LoadError": errors.As(tc.err, &le), "*OpError": errors.As(tc.err, &oe), "": true}
		if tc.err == nil || !found[tc.as] || !errors.Is(tc.err, tc.is) || tc.notStore && found["*OpError"] {
			t.Errorf("%s: %T %v; want %s matching %v, and an *OpError only if the store failed", tc.name, tc.err, tc.err, tc.as, tc.is)
		}
	}
}

// incompressible returns n bytes that no compression shrinks (an LCG's
// high bytes).
func incompressible(n int) []byte {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x = x*6364136223846793005 + 1442695040888963407
		b[i] = byte(x >> 56)
	}
	return b
}
