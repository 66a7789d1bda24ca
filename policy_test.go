package tradecache_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/redistest"
)

func testKey(id string, fill byte) codec.Key {
	return codec.Key{ID: id, Secret: bytes.Repeat([]byte{fill}, 32)}
}

type sessionValue struct {
	User  string `json:"user"`
	Token string `json:"token"`
}

// Two Caches on one real Redis: what one writes under its settings, the
// other reads under its own.
func TestNamespacePoliciesThroughRedis(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t)
	admin := rawClient(t, srv.Addr)
	open := func(cfg tradecache.Config) *tradecache.Cache {
		cfg.Redis = tradecache.RedisConfig{URL: "redis://" + srv.Addr}
		c := cachetest.Open(t, cfg)
		return c
	}
	raw := func(key string) []byte {
		b, err := admin.Do(ctx, admin.B().Get().Key(key).Build()).AsBytes()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("sessions are sealed by default once keys are set", func(t *testing.T) {
		c := open(tradecache.Config{EncryptionKeys: []codec.Key{testKey("k1", 1)}})
		in := sessionValue{User: "trader-7", Token: "distinctive-token-value"}
		if err := c.Namespace(tradecache.NamespaceSession).Set(ctx, "s1", in, 0); err != nil {
			t.Fatal(err)
		}
		stored := raw("trading:session:s1")
		if h, _ := codec.ParseHeader(stored); !h.Sealed || bytes.Contains(stored, []byte("distinctive")) {
			t.Fatalf("session stored in the clear: % x", stored)
		}
		var out sessionValue
		if ok, err := c.Namespace(tradecache.NamespaceSession).Get(ctx, "s1", &out); err != nil || !ok || out != in {
			t.Fatalf("Get = %v, %v, %+v", ok, err, out)
		}
		// Other namespaces stay unsealed unless they ask.
		if err := c.Namespace("portfolio").Set(ctx, "p", "plain", 0); err != nil {
			t.Fatal(err)
		}
		if h, _ := codec.ParseHeader(raw("trading:portfolio:p")); h.Sealed {
			t.Fatal("an unsealed namespace sealed its value")
		}

		// Copying the sealed value to another session key in Redis does not
		// let it be read there.
		admin.Do(ctx, admin.B().Copy().Source("trading:session:s1").Destination("trading:session:s2").Build())
		_, err := c.Namespace(tradecache.NamespaceSession).Get(ctx, "s2", &out)
		var se *tradecache.SerializationError
		if !errors.As(err, &se) || !errors.Is(err, codec.ErrTampered) || se.Key != "s2" {
			t.Fatalf("copied sealed value = %v, want a SerializationError matching ErrTampered", err)
		}
		if strings.Contains(err.Error(), string(bytes.Repeat([]byte{1}, 32))) || strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))) {
			t.Fatal("key material in an error")
		}

		// A value planted in the clear is refused, not trusted.
		plain := open(tradecache.Config{KeyPrefix: "trading"})
		if err := plain.Namespace(tradecache.NamespaceSession).Set(ctx, "forged", sessionValue{User: "admin"}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Namespace(tradecache.NamespaceSession).Get(ctx, "forged", &out); !errors.Is(err, codec.ErrNotSealed) {
			t.Fatalf("planted plaintext session = %v, want ErrNotSealed", err)
		}

		// Rotation: a Cache with a new first key reads the old values and
		// writes with the new key; one without the old key cannot read them.
		rotated := open(tradecache.Config{EncryptionKeys: []codec.Key{testKey("k2", 2), testKey("k1", 1)}})
		if ok, err := rotated.Namespace(tradecache.NamespaceSession).Get(ctx, "s1", &out); err != nil || !ok || out != in {
			t.Fatalf("after rotation: %v, %v", ok, err)
		}
		if err := rotated.Namespace(tradecache.NamespaceSession).Set(ctx, "s3", in, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(raw("trading:session:s3"), []byte("k2")) {
			t.Fatal("new write not sealed with the new key")
		}
		newOnly := open(tradecache.Config{EncryptionKeys: []codec.Key{testKey("k2", 2)}})
		if _, err := newOnly.Namespace(tradecache.NamespaceSession).Get(ctx, "s1", &out); !errors.Is(err, codec.ErrUnknownKey) {
			t.Fatalf("old value after the old key was dropped = %v, want ErrUnknownKey", err)
		}
		wrong := open(tradecache.Config{EncryptionKeys: []codec.Key{testKey("k1", 9)}})
		if _, err := wrong.Namespace(tradecache.NamespaceSession).Get(ctx, "s1", &out); !errors.Is(err, codec.ErrTampered) {
			t.Fatalf("wrong key = %v, want ErrTampered", err)
		}
	})

	t.Run("values written before a compression change still read", func(t *testing.T) {
		var sb strings.Builder
		for i := 0; sb.Len() < 64<<10; i++ {
			fmt.Fprintf(&sb, "AAPL,%d.%02d,%d;", 100+i*7%97, i*13%100, i*31%1000) // compresses a few times, as quotes do
		}
		big := sb.String()
		zstdCache := open(tradecache.Config{KeyPrefix: "cmp"})
		s2Cache := open(tradecache.Config{KeyPrefix: "cmp", Namespaces: map[string]tradecache.NamespaceConfig{
			"market_data": {Compression: codec.CompressionS2, CompressThreshold: 256},
		}})
		offCache := open(tradecache.Config{KeyPrefix: "cmp", Compression: codec.CompressionNone})
		if err := zstdCache.Namespace("market_data").Set(ctx, "z", big, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s2Cache.Namespace("market_data").Set(ctx, "s", big, time.Minute); err != nil {
			t.Fatal(err)
		}
		if h, _ := codec.ParseHeader(raw("cmp:market_data:z")); h.Compression != codec.CompressionZstd {
			t.Fatalf("default compression is %s", h.Compression)
		}
		if h, _ := codec.ParseHeader(raw("cmp:market_data:s")); h.Compression != codec.CompressionS2 {
			t.Fatalf("namespace policy compression is %s", h.Compression)
		}
		for _, c := range []*tradecache.Cache{zstdCache, s2Cache, offCache} {
			for _, k := range []string{"z", "s"} {
				var got string
				if ok, err := c.Namespace("market_data").Get(ctx, k, &got); err != nil || !ok || got != big {
					t.Fatalf("%s read under another setting: %v, %v", k, ok, err)
				}
			}
		}
	})

	t.Run("a bomb is refused", func(t *testing.T) {
		c := open(tradecache.Config{KeyPrefix: "bomb", MaxDecodedSize: 1 << 20})
		w, _ := codec.New(codec.Options{MaxExpansion: 1 << 30}) // a careless writer: compresses past any reader's bound
		b, _ := w.Marshal("", strings.Repeat("0", 8<<20))
		admin.Do(ctx, admin.B().Set().Key("bomb:default:b").Value(rueidis.BinaryString(b)).Build())
		var s string
		if _, err := c.Get(ctx, "b", &s); !errors.Is(err, codec.ErrTooLarge) {
			t.Fatalf("8 MiB bomb with a 1 MiB cap = %v, want ErrTooLarge", err)
		}
	})
}

// Whatever bytes sit under a key, Get returns a value or a
// *SerializationError: never a panic, a hang, or a wrong value.
func TestBadStoredBytesAreSerializationErrors(t *testing.T) {
	eachBackend(t, tradecache.Config{MaxDecodedSize: 1 << 20}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		zstdBomb, _ := codec.New(codec.Options{MaxExpansion: 1 << 30}) // a careless writer
		bomb, _ := zstdBomb.Marshal("", strings.Repeat("x", 4<<20))
		ring, _ := codec.NewKeyring(testKey("other", 7))
		sealer, _ := codec.New(codec.Options{Keys: ring, Seal: true})
		sealed, _ := sealer.Marshal("trading:default:sealed", "s")
		cases := map[string][]byte{
			"empty":           {},
			"wrong version":   {0x20, 0xa1, 'x'},
			"unknown flag":    {0x16, 0xa1, 'x'},
			"truncated":       {0x10, 0xa4, 'x'},
			"trailing":        {0x10, 0xa1, 'x', 0xc0},
			"huge array":      {0x10, 0xdd, 0xff, 0xff, 0xff, 0xff},
			"bad time":        {0x10, 0xd7, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			"oversized":       bomb,
			"sealed, no key":  sealed,
			"not an envelope": []byte(`{"json": true}`),
			"deep nesting":    append([]byte{0x10}, bytes.Repeat([]byte{0x91}, 100)...),
		}
		for name, raw := range cases {
			if err := b.setRaw(t, "trading:default:"+strings.ReplaceAll(name, " ", "_"), raw); err != nil {
				t.Fatal(err)
			}
			var v any
			found, err := b.cache.Get(ctx, strings.ReplaceAll(name, " ", "_"), &v)
			var se *tradecache.SerializationError
			if !errors.As(err, &se) || found || v != nil {
				t.Errorf("%s: Get = %v, %v, %v; want a *SerializationError and no value", name, found, v, err)
			}
		}
	})
}

// A ConfigError names every bad setting, of every namespace policy too:
// the policy checks stopped at the first problem of each namespace, so a
// policy with three mistakes needed three runs to fix.
func TestEveryBadPolicySettingIsNamed(t *testing.T) {
	cfg := tradecache.Config{Namespaces: map[string]tradecache.NamespaceConfig{
		"risk": {TTL: -time.Second, Compression: "lz4", MaxStale: -time.Minute, TTLJitter: 2, StreamMaxLen: -1},
		"md":   {EarlyRefresh: -1},
	}}
	err := cfg.Validate()
	var ce *tradecache.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Validate = %v, want a *ConfigError", err)
	}
	var got []string
	for _, f := range ce.Fields {
		got = append(got, f.Field)
	}
	want := []string{"Namespaces[md].EarlyRefresh", "Namespaces[risk].TTL", "Namespaces[risk].Compression",
		"Namespaces[risk].MaxStale", "Namespaces[risk].TTLJitter", "Namespaces[risk].StreamMaxLen"}
	if !slices.Equal(got, want) {
		t.Fatalf("the ConfigError names %q, want %q:\n%v", got, want, err)
	}
}
