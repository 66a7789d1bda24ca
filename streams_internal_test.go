package tradecache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tradecache/tradecache/internal/keyslot"
)

// A published key's names are built once and held, up to maxPubNames
// keys: the second publish of a key builds nothing, and a namespace
// publishing under ever new keys stops holding names at the bound.
func TestPublishedKeysNamesAreHeldUpToABound(t *testing.T) {
	c, ns := marketData(t)
	first, err := ns.pubKeysOf("publish", "AAPL:quote")
	if err != nil {
		t.Fatal(err)
	}
	slot := keyslot.Of(first.full)
	if !strings.HasPrefix(first.ver, first.full+" ver") || !strings.HasPrefix(first.stream, first.full+" stream") ||
		keyslot.Of(first.ver) != slot || keyslot.Of(first.stream) != slot {
		t.Fatalf("names %+v: the version key and the stream must follow the key, in its slot", first)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = ns.pubKeysOf("publish", "AAPL:quote") }); allocs != 0 {
		t.Fatalf("a held key's names cost %v allocations", allocs)
	}
	for i := range maxPubNames + 10 {
		if _, err := ns.pubKeysOf("publish", fmt.Sprint("S", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := ns.pub.n.Load(); got != maxPubNames {
		t.Fatalf("%d names held after %d keys, want the bound %d", got, maxPubNames+11, maxPubNames)
	}
	if _, err := ns.pubKeysOf("publish", "bad key"); err == nil {
		t.Fatal("a key with a space was accepted")
	}
	c.Close()
	if _, err := ns.pubKeysOf("publish", "AAPL:quote"); !errors.Is(err, errClosed) {
		t.Fatalf("a held key after Close: %v, want the closed cache's error", err)
	}
}

// A publication's envelope is encoded into one buffer of its own, made to
// a quote's size: one allocation for a held key's publication, where
// growing from nothing made four.
func TestAPublicationEncodesIntoOneBuffer(t *testing.T) {
	_, ns := marketData(t)
	type quote struct {
		Symbol   string
		Bid, Ask float64
		Seq      uint64
		At       time.Time
	}
	u := Update{Key: "AAPL:quote", Value: quote{"AAPL", 189.98, 190.02, 7, time.Unix(1700000000, 0)}, Version: 7}
	p, err := ns.publication("publish", u)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Value) > publicationBuffer {
		t.Fatalf("the envelope is %d bytes, over the %d it starts with", len(p.Value), publicationBuffer)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = ns.publication("publish", u) }); allocs > 2 {
		t.Fatalf("a publication cost %v allocations, want the buffer's (and the value's boxing)", allocs)
	}
}

// marketData opens a Cache on the in-memory store, closed when the test
// ends, and returns it with its market_data namespace.
func marketData(t *testing.T) (*Cache, *Namespace) {
	t.Helper()
	c, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, c.Namespace("market_data")
}
