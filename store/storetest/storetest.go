// Package storetest is the conformance suite that every store.Store must
// pass. The memstore and the Redis store both run it, which is what makes
// memstore a faithful stand-in for Redis in users' tests.
//
// A third-party Store runs it the same way:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newMyStore(t) })
//	}
//
// The factory may return stores that share one backend: every case works
// under its own random key prefix and removes nothing outside it.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tradecache/tradecache/store"
)

// Factory returns a fresh Store for one test case. The suite closes it.
type Factory func(t *testing.T) store.Store

func prefix(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "storetest:" + hex.EncodeToString(b[:]) + ":"
}

// Run runs every conformance case as a subtest.
func Run(t *testing.T, newStore Factory) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s store.Store, p string)
	}{
		{"GetMissing", testGetMissing},
		{"SetGet", testSetGet},
		{"Overwrite", testOverwrite},
		{"ValueIsCopied", testValueIsCopied},
		{"TTL", testTTL},
		{"Expiry", testExpiry},
		{"Expire", testExpire},
		{"ExistsDelete", testExistsDelete},
		{"GetMany", testGetMany},
		{"SetMany", testSetMany},
		{"SetNXAndDeleteIfEqual", testLock},
		{"SetIfNewer", testSetIfNewer},
		{"GetEx", testGetEx},
		{"DeletePrefix", testDeletePrefix},
		{"DeletePrefixIsLiteral", testDeletePrefixLiteral},
		{"Roster", testRoster},
		{"Concurrent", testConcurrent},
		{"CanceledContext", testCanceled},
		{"Close", testClose},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			c.fn(t, s, prefix(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustGet(t *testing.T, s store.Store, key string) []byte {
	t.Helper()
	v, ok, err := s.Get(ctx(t), key)
	must(t, err)
	if !ok {
		t.Fatalf("Get(%q): not found, want found", key)
	}
	return v
}

func testGetMissing(t *testing.T, s store.Store, p string) {
	v, ok, err := s.Get(ctx(t), p+"nope")
	if err != nil || ok || v != nil {
		t.Fatalf("Get(missing) = %q, %v, %v; want nil, false, nil", v, ok, err)
	}
}

func testSetGet(t *testing.T, s store.Store, p string) {
	vals := map[string][]byte{
		"bin":   {0, 1, 2, 0xff, 0, '\r', '\n'},
		"empty": {},
		"big":   bytes.Repeat([]byte("x"), 256<<10),
	}
	for k, v := range vals {
		must(t, s.Set(ctx(t), p+k, v, time.Minute))
	}
	for k, want := range vals {
		got := mustGet(t, s, p+k)
		if !bytes.Equal(got, want) || got == nil {
			t.Fatalf("Get(%q) = %d bytes (nil=%v), want %d bytes", k, len(got), got == nil, len(want))
		}
	}
}

func testOverwrite(t *testing.T, s store.Store, p string) {
	must(t, s.Set(ctx(t), p+"k", []byte("one"), time.Minute))
	must(t, s.Set(ctx(t), p+"k", []byte("two"), 0))
	if got := mustGet(t, s, p+"k"); string(got) != "two" {
		t.Fatalf("after overwrite Get = %q, want %q", got, "two")
	}
	ttl, ok, err := s.TTL(ctx(t), p+"k")
	must(t, err)
	if !ok || ttl != store.NoExpiry {
		t.Fatalf("overwrite without TTL: TTL = %v, %v; want NoExpiry, true", ttl, ok)
	}
}

func testValueIsCopied(t *testing.T, s store.Store, p string) {
	buf := []byte("original")
	must(t, s.Set(ctx(t), p+"k", buf, time.Minute))
	copy(buf, "XXXXXXXX")
	if got := mustGet(t, s, p+"k"); string(got) != "original" {
		t.Fatalf("store kept the caller's buffer: Get = %q", got)
	}
}

func testTTL(t *testing.T, s store.Store, p string) {
	must(t, s.Set(ctx(t), p+"ttl", []byte("v"), 10*time.Second))
	must(t, s.Set(ctx(t), p+"forever", []byte("v"), 0))
	ttl, ok, err := s.TTL(ctx(t), p+"ttl")
	must(t, err)
	if !ok || ttl <= 9*time.Second || ttl > 10*time.Second {
		t.Fatalf("TTL = %v, %v; want (9s, 10s], true", ttl, ok)
	}
	ttl, ok, err = s.TTL(ctx(t), p+"forever")
	must(t, err)
	if !ok || ttl != store.NoExpiry {
		t.Fatalf("TTL(no expiry) = %v, %v; want NoExpiry, true", ttl, ok)
	}
	_, ok, err = s.TTL(ctx(t), p+"missing")
	must(t, err)
	if ok {
		t.Fatal("TTL(missing) found = true")
	}
}

// waitGone polls until key is gone, failing after a bound. Real Redis
// cannot be made to move time, so expiry is observed, with a deadline.
func waitGone(t *testing.T, s store.Store, key string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		_, ok, err := s.Get(ctx(t), key)
		must(t, err)
		if !ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%q did not expire within 3s", key)
}

func testExpiry(t *testing.T, s store.Store, p string) {
	must(t, s.Set(ctx(t), p+"short", []byte("v"), 20*time.Millisecond))
	must(t, s.Set(ctx(t), p+"long", []byte("v"), time.Minute))
	waitGone(t, s, p+"short")
	if ok, err := s.Exists(ctx(t), p+"short"); err != nil || ok {
		t.Fatalf("Exists(expired) = %v, %v", ok, err)
	}
	mustGet(t, s, p+"long")
}

// testRoster: members announced are listed until their TTL passes, an
// announcement renews a member, and limit bounds the answer.
func testRoster(t *testing.T, s store.Store, p string) {
	key := p + "roster"
	if m, err := s.Members(ctx(t), key, 10); err != nil || len(m) != 0 {
		t.Fatalf("Members(empty roster) = %q, %v", m, err)
	}
	must(t, s.Announce(ctx(t), key, "a", time.Minute))
	must(t, s.Announce(ctx(t), key, "b", time.Minute))
	must(t, s.Announce(ctx(t), key, "short", 30*time.Millisecond))
	must(t, s.Announce(ctx(t), key, "a", time.Minute)) // renewed, not added twice
	if err := s.Announce(ctx(t), key, "x", 0); err == nil {
		t.Fatal("Announce with no TTL accepted")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		m, err := s.Members(ctx(t), key, 10)
		must(t, err)
		sort.Strings(m)
		if strings.Join(m, ",") == "a,b" {
			break
		}
		if time.Now().After(deadline) || len(m) != 3 {
			t.Fatalf("Members = %q, want a,b (and short until it expires)", m)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if m, err := s.Members(ctx(t), key, 1); err != nil || len(m) != 1 {
		t.Fatalf("Members(limit 1) = %q, %v", m, err)
	}
}

func testExpire(t *testing.T, s store.Store, p string) {
	ok, err := s.Expire(ctx(t), p+"missing", time.Minute)
	if err != nil || ok {
		t.Fatalf("Expire(missing) = %v, %v; want false, nil", ok, err)
	}
	must(t, s.Set(ctx(t), p+"k", []byte("v"), 0))
	ok, err = s.Expire(ctx(t), p+"k", 5*time.Second)
	if err != nil || !ok {
		t.Fatalf("Expire(existing) = %v, %v; want true, nil", ok, err)
	}
	ttl, _, err := s.TTL(ctx(t), p+"k")
	must(t, err)
	if ttl <= 4*time.Second || ttl > 5*time.Second {
		t.Fatalf("TTL after Expire(5s) = %v", ttl)
	}
	if _, err := s.Expire(ctx(t), p+"k", 0); err == nil {
		t.Fatal("Expire with TTL 0 succeeded, want an error")
	}
	ok, err = s.Expire(ctx(t), p+"k", 15*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("Expire(15ms) = %v, %v", ok, err)
	}
	waitGone(t, s, p+"k")
}

func testExistsDelete(t *testing.T, s store.Store, p string) {
	must(t, s.Set(ctx(t), p+"a", []byte("1"), time.Minute))
	must(t, s.Set(ctx(t), p+"b", []byte("2"), time.Minute))
	if ok, err := s.Exists(ctx(t), p+"a"); err != nil || !ok {
		t.Fatalf("Exists(a) = %v, %v", ok, err)
	}
	n, err := s.Delete(ctx(t), p+"a", p+"b", p+"missing")
	must(t, err)
	if n != 2 {
		t.Fatalf("Delete returned %d, want 2", n)
	}
	if ok, err := s.Exists(ctx(t), p+"a"); err != nil || ok {
		t.Fatalf("Exists(deleted) = %v, %v", ok, err)
	}
	n, err = s.Delete(ctx(t))
	if err != nil || n != 0 {
		t.Fatalf("Delete() = %d, %v; want 0, nil", n, err)
	}
}

func testGetMany(t *testing.T, s store.Store, p string) {
	must(t, s.Set(ctx(t), p+"a", []byte("A"), time.Minute))
	must(t, s.Set(ctx(t), p+"e", []byte{}, time.Minute))
	got, err := s.GetMany(ctx(t), []string{p + "a", p + "missing", p + "e", p + "a"})
	must(t, err)
	if len(got) != 4 {
		t.Fatalf("GetMany returned %d slots, want 4", len(got))
	}
	if string(got[0]) != "A" || got[1] != nil || got[2] == nil || len(got[2]) != 0 || string(got[3]) != "A" {
		t.Fatalf("GetMany = %q (nil: %v %v %v %v)", got, got[0] == nil, got[1] == nil, got[2] == nil, got[3] == nil)
	}
	got, err = s.GetMany(ctx(t), nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("GetMany(nil) = %v, %v", got, err)
	}
}

func testSetMany(t *testing.T, s store.Store, p string) {
	var entries []store.Entry
	for i := range 50 {
		entries = append(entries, store.Entry{Key: fmt.Sprintf("%s%d", p, i), Value: []byte(fmt.Sprint(i)), TTL: time.Duration(i+1) * time.Minute})
	}
	entries = append(entries, store.Entry{Key: p + "forever", Value: []byte("f")})
	must(t, s.SetMany(ctx(t), entries))
	must(t, s.SetMany(ctx(t), nil))
	for _, e := range entries {
		if got := mustGet(t, s, e.Key); !bytes.Equal(got, e.Value) {
			t.Fatalf("Get(%q) = %q, want %q", e.Key, got, e.Value)
		}
		ttl, _, err := s.TTL(ctx(t), e.Key)
		must(t, err)
		if e.TTL == 0 && ttl != store.NoExpiry || e.TTL > 0 && (ttl > e.TTL || ttl < e.TTL-2*time.Second) {
			t.Fatalf("TTL(%q) = %v, want about %v", e.Key, ttl, e.TTL)
		}
	}
}

func testLock(t *testing.T, s store.Store, p string) {
	ok, err := s.SetNX(ctx(t), p+"lock", []byte("token-a"), time.Minute)
	if err != nil || !ok {
		t.Fatalf("SetNX on a free key = %v, %v", ok, err)
	}
	ok, err = s.SetNX(ctx(t), p+"lock", []byte("token-b"), time.Minute)
	if err != nil || ok {
		t.Fatalf("SetNX on a held key = %v, %v", ok, err)
	}
	if got := mustGet(t, s, p+"lock"); string(got) != "token-a" {
		t.Fatalf("held lock overwritten: %q", got)
	}
	ok, err = s.DeleteIfEqual(ctx(t), p+"lock", []byte("token-b"))
	if err != nil || ok {
		t.Fatalf("DeleteIfEqual with the wrong token = %v, %v", ok, err)
	}
	ok, err = s.DeleteIfEqual(ctx(t), p+"lock", []byte("token-a"))
	if err != nil || !ok {
		t.Fatalf("DeleteIfEqual with the right token = %v, %v", ok, err)
	}
	if ok, _ := s.Exists(ctx(t), p+"lock"); ok {
		t.Fatal("lock still held after release")
	}
	if _, err := s.SetNX(ctx(t), p+"x", []byte("v"), 0); err == nil {
		t.Fatal("SetNX without a TTL succeeded: a lock must expire")
	}
	// An expired lock is free again: a crashed holder blocks for its TTL only.
	ok, err = s.SetNX(ctx(t), p+"short", []byte("t1"), 20*time.Millisecond)
	if err != nil || !ok {
		t.Fatal(err)
	}
	waitGone(t, s, p+"short")
	if ok, err := s.SetNX(ctx(t), p+"short", []byte("t2"), time.Minute); err != nil || !ok {
		t.Fatalf("SetNX after the lock expired = %v, %v", ok, err)
	}
}

func testSetIfNewer(t *testing.T, s store.Store, p string) {
	// The key's hash tag puts both keys in one cluster slot, as the
	// interface requires.
	k, vk := p+"{q}", p+"{q} ver"
	for _, c := range []struct {
		version uint64
		applied bool
	}{{5, true}, {3, false}, {5, false}, {6, true}, {1 << 63, true}, {1<<63 - 1, false}} {
		ok, err := s.SetIfNewer(ctx(t), k, vk, []byte(fmt.Sprint(c.version)), c.version, time.Minute)
		must(t, err)
		if ok != c.applied {
			t.Fatalf("SetIfNewer(version %d) applied=%v, want %v", c.version, ok, c.applied)
		}
	}
	if got := mustGet(t, s, k); string(got) != fmt.Sprint(uint64(1<<63)) {
		t.Fatalf("stored %q, want the highest version's value", got)
	}
	if ttl, _, _ := s.TTL(ctx(t), k); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("TTL %v", ttl)
	}
	if _, err := s.SetIfNewer(ctx(t), k, vk, []byte("x"), 9, 0); err == nil {
		t.Fatal("SetIfNewer without a TTL succeeded")
	}
}

func testGetEx(t *testing.T, s store.Store, p string) {
	must(t, s.Set(ctx(t), p+"s", []byte("v"), 2*time.Second))
	v, ok, err := s.GetEx(ctx(t), p+"s", time.Hour)
	if err != nil || !ok || string(v) != "v" {
		t.Fatalf("GetEx = %q %v %v", v, ok, err)
	}
	if ttl, _, _ := s.TTL(ctx(t), p+"s"); ttl < 59*time.Minute {
		t.Fatalf("TTL after GetEx(1h) = %v", ttl)
	}
	if _, ok, err := s.GetEx(ctx(t), p+"missing", time.Hour); err != nil || ok {
		t.Fatalf("GetEx(missing) = %v %v", ok, err)
	}
}

func testDeletePrefix(t *testing.T, s store.Store, p string) {
	for i := range 250 {
		must(t, s.Set(ctx(t), fmt.Sprintf("%sgone:%d", p, i), []byte("x"), time.Minute))
	}
	for i := range 20 {
		must(t, s.Set(ctx(t), fmt.Sprintf("%skeep:%d", p, i), []byte("y"), time.Hour))
	}
	n, err := s.DeletePrefix(ctx(t), p+"gone:", 37)
	must(t, err)
	if n != 250 {
		t.Fatalf("DeletePrefix removed %d, want 250", n)
	}
	for i := range 250 {
		if ok, _ := s.Exists(ctx(t), fmt.Sprintf("%sgone:%d", p, i)); ok {
			t.Fatalf("gone:%d survived DeletePrefix", i)
		}
	}
	for i := range 20 {
		ttl, ok, err := s.TTL(ctx(t), fmt.Sprintf("%skeep:%d", p, i))
		must(t, err)
		if !ok || ttl < 59*time.Minute {
			t.Fatalf("keep:%d after DeletePrefix: found=%v ttl=%v", i, ok, ttl)
		}
	}
}

func testDeletePrefixLiteral(t *testing.T, s store.Store, p string) {
	must(t, s.Set(ctx(t), p+"a*b:1", []byte("x"), time.Minute))
	must(t, s.Set(ctx(t), p+"aXXb:1", []byte("x"), time.Minute))
	must(t, s.Set(ctx(t), p+"a?[c]:1", []byte("x"), time.Minute))
	must(t, s.Set(ctx(t), p+"aZ[c]:1", []byte("x"), time.Minute))
	n, err := s.DeletePrefix(ctx(t), p+"a*b:", 10)
	must(t, err)
	n2, err := s.DeletePrefix(ctx(t), p+"a?[c]:", 10)
	must(t, err)
	if n != 1 || n2 != 1 {
		t.Fatalf("glob characters in the prefix were not literal: removed %d and %d, want 1 and 1", n, n2)
	}
	mustGet(t, s, p+"aXXb:1")
	mustGet(t, s, p+"aZ[c]:1")
}

func testConcurrent(t *testing.T, s store.Store, p string) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := fmt.Sprintf("%s%d", p, i%20)
				v := []byte(fmt.Sprintf("%d-%d", g, i))
				if err := s.Set(context.Background(), k, v, time.Minute); err != nil {
					errs <- err
					return
				}
				got, ok, err := s.Get(context.Background(), k)
				if err != nil || !ok || len(got) == 0 {
					errs <- fmt.Errorf("Get(%q) = %q, %v, %v", k, got, ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testCanceled(t *testing.T, s store.Store, p string) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Set(c, p+"k", []byte("v"), time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set with a canceled ctx = %v, want context.Canceled", err)
	}
	if ok, err := s.Exists(ctx(t), p+"k"); err != nil || ok {
		t.Fatalf("a canceled Set wrote the key: Exists = %v, %v", ok, err)
	}
}

func testClose(t *testing.T, s store.Store, p string) {
	must(t, s.Ping(ctx(t)))
	must(t, s.Close())
	if _, _, err := s.Get(ctx(t), p+"k"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get after Close = %v, want ErrUnavailable", err)
	}
	if err := s.Set(ctx(t), p+"k", []byte("v"), 0); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Set after Close = %v, want ErrUnavailable", err)
	}
}
