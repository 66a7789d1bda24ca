package redisstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/redisstore"
	"github.com/tradecache/tradecache/store/storetest"
)

// Open offers store.CachedReader only with tracking on, and hands the
// server's invalidations up as plain keys.
func TestOpenTrackingAndInvalidations(t *testing.T) {
	srv := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	plain, err := redisstore.Open(ctx, redisstore.Options{Addr: srv.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, ok := plain.(store.CachedReader); ok {
		t.Fatal("a store without OnInvalidations offers tracked reads")
	}
	if d := plain.(store.Describer).Describe(); d.Backend != "redis" || d.Topology != "standalone" || d.PipelinedConnections != 1 || d.BlockingPoolSize <= 0 {
		t.Fatalf("Describe = %+v", d)
	}

	got := make(chan []string, 16)
	tracked, err := redisstore.Open(ctx, redisstore.Options{Addr: srv.Addr, MaxConnections: 4, OnInvalidations: func(keys []string) { got <- keys }})
	if err != nil {
		t.Fatal(err)
	}
	defer tracked.Close()
	if d := tracked.(store.Describer).Describe(); d.PipelinedConnections != 2 || d.BlockingPoolSize != 4 {
		t.Fatalf("Describe = %+v", d)
	}
	cr, ok := tracked.(store.CachedReader)
	if !ok {
		t.Fatal("a store with OnInvalidations offers no tracked reads")
	}
	if err := plain.Set(ctx, "inv:k", []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, found, _, err := cr.GetCached(ctx, "inv:k", time.Minute); err != nil || !found || string(v) != "1" {
		t.Fatalf("GetCached = %q, %v, %v", v, found, err)
	}
	if err := plain.Set(ctx, "inv:k", []byte("2"), time.Minute); err != nil { // another client's write
		t.Fatal(err)
	}
	select {
	case keys := <-got:
		if !slices.Equal(keys, []string{"inv:k"}) {
			t.Fatalf("invalidated %q, want [inv:k]", keys)
		}
	case <-ctx.Done():
		t.Fatal("no invalidation arrived")
	}
}

// The conformance suite holds for a tracking store too.
func TestConformanceTracked(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := redisstore.Open(ctx, redisstore.Options{Addr: srv.Addr, OnInvalidations: func([]string) {}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Options that cannot be used fail before any dial, naming the field.
func TestOpenOptionErrors(t *testing.T) {
	for _, c := range []struct {
		o     redisstore.Options
		field string
	}{
		{redisstore.Options{}, "Addr"},
		{redisstore.Options{URL: "http://x"}, "URL"},
		{redisstore.Options{Addr: "127.0.0.1:1", TLSCAFile: filepath.Join(t.TempDir(), "none.pem")}, "TLSCAFile"},
		{redisstore.Options{Addr: "127.0.0.1:1", TLSCertFile: filepath.Join(t.TempDir(), "none.pem")}, "TLSCertFile"},
	} {
		_, err := redisstore.Open(context.Background(), c.o)
		var oe *redisstore.OptionError
		if !errors.As(err, &oe) || oe.Field != c.field {
			t.Errorf("Open(%+v) = %v, want an OptionError for %s", c.o, err, c.field)
		}
	}
}
