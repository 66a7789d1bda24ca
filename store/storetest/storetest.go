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
		{"ReleaseWakesWatchers", testReleaseWakes},
		{"SetIfNewer", testSetIfNewer},
		{"GetEx", testGetEx},
		{"DeletePrefix", testDeletePrefix},
		{"DeletePrefixIsLiteral", testDeletePrefixLiteral},
		{"Roster", testRoster},
		{"StreamPublish", testStreamPublish},
		{"StreamRead", testStreamRead},
		{"StreamGroups", testStreamGroups},
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

// streamKeys are a value key and its companions in one hash slot.
func streamKeys(p, name string) (key, ver, stream, dead string) {
	key = "{" + p + name + "}"
	return key, key + " ver", key + " stream", key + " dead"
}

// streams is the store's stream operations: its own, or, for a wrapper
// such as package guard's, what its Streams method offers.
func streams(t *testing.T, s store.Store) store.Streams {
	if st, ok := s.(store.Streams); ok {
		return st
	}
	if w, ok := s.(interface{ Streams() store.Streams }); ok && w.Streams() != nil {
		return w.Streams()
	}
	t.Fatalf("%T keeps no streams", s)
	return nil
}

// testStreamPublish: a publish applies above the stored version only,
// appends exactly the applied updates, chained, and a snapshot reads the
// value with the stream's last ID; the plain SetIfNewer shares the guard.
func testStreamPublish(t *testing.T, s store.Store, p string) {
	st := streams(t, s)
	key, ver, stream, _ := streamKeys(p, "q")
	pub := func(v uint64) (bool, string) {
		ok, id, err := st.Publish(ctx(t), store.Publication{Key: key, VerKey: ver, Stream: stream, Value: []byte(fmt.Sprint("v", v)),
			Version: v, TTL: time.Minute, Retention: store.Retention{MaxLen: 1000}})
		must(t, err)
		return ok, id
	}
	var ids []string
	for _, v := range []uint64{2, 1, 5, 5, 7} {
		if ok, id := pub(v); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) != 3 {
		t.Fatalf("applied %d of versions 2, 1, 5, 5, 7; want 3", len(ids))
	}
	es, err := st.Range(ctx(t), stream, "-", "+", 10)
	must(t, err)
	if len(es) != 3 || es[0].Version != 2 || es[2].Version != 7 || es[0].Prev != "" || es[1].Prev != es[0].ID || es[2].Prev != es[1].ID {
		t.Fatalf("stream %+v", es)
	}
	snap, err := st.Snapshot(ctx(t), key, ver, stream)
	must(t, err)
	if !snap.Found || snap.Version != 7 || snap.LastID != ids[2] || string(snap.Value) != "v7" {
		t.Fatalf("snapshot %+v", snap)
	}
	if ok, err := s.SetIfNewer(ctx(t), key, ver, []byte("old"), 6, time.Minute); err != nil || ok {
		t.Fatalf("SetIfNewer at 6 over a published 7: %v %v", ok, err)
	}
	if ok, err := s.SetIfNewer(ctx(t), key, ver, []byte("new"), 8, time.Minute); err != nil || !ok {
		t.Fatalf("SetIfNewer at 8 over a published 7: %v %v", ok, err)
	}
	if ok, _ := pub(8); ok {
		t.Fatal("Publish at 8 over a SetIfNewer at 8 applied")
	}
	rs, err := st.PublishMany(ctx(t), []store.Publication{
		{Key: key, VerKey: ver, Stream: stream, Value: []byte("v9"), Version: 9, TTL: time.Minute},
		{Key: key, VerKey: ver, Stream: stream, Value: []byte("v3"), Version: 3, TTL: time.Minute},
	})
	must(t, err)
	if len(rs) != 2 || !rs[0].Applied || rs[1].Applied || rs[0].Err != nil {
		t.Fatalf("PublishMany %+v", rs)
	}
	// Retention by count keeps the stream bounded.
	for v := uint64(10); v < 400; v++ {
		if _, _, err := st.Publish(ctx(t), store.Publication{Key: key, VerKey: ver, Stream: stream, Value: []byte("x"), Version: v,
			TTL: time.Minute, Retention: store.Retention{MaxLen: 50}}); err != nil {
			t.Fatal(err)
		}
	}
	es, err = st.Range(ctx(t), stream, "-", "+", 10000)
	must(t, err)
	if len(es) < 50 || len(es) > 200 {
		t.Fatalf("%d entries kept with a retention of 50", len(es))
	}
}

// testStreamRead: a read after an ID returns what follows; a blocking read
// returns when an entry arrives.
func testStreamRead(t *testing.T, s store.Store, p string) {
	st := streams(t, s)
	key, ver, stream, _ := streamKeys(p, "r")
	_, first, err := st.Publish(ctx(t), store.Publication{Key: key, VerKey: ver, Stream: stream, Value: []byte("a"), Version: 1, TTL: time.Minute})
	must(t, err)
	got, err := st.Read(ctx(t), []string{stream}, []string{"0-0"}, 10, 0)
	must(t, err)
	if len(got) != 1 || len(got[0]) != 1 || got[0][0].ID != first {
		t.Fatalf("read from the start: %+v", got)
	}
	done := make(chan []store.StreamEntry, 1)
	go func() {
		es, err := st.Read(ctx(t), []string{stream}, []string{first}, 10, 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- es[0]
	}()
	time.Sleep(50 * time.Millisecond)
	_, second, err := st.Publish(ctx(t), store.Publication{Key: key, VerKey: ver, Stream: stream, Value: []byte("b"), Version: 2, TTL: time.Minute})
	must(t, err)
	select {
	case es := <-done:
		if len(es) != 1 || es[0].ID != second || es[0].Prev != first {
			t.Fatalf("blocking read: %+v", es)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("a blocking read did not wake on an append")
	}
	es, err := st.Range(ctx(t), stream, "("+first, "+", 10)
	must(t, err)
	if len(es) != 1 || es[0].ID != second {
		t.Fatalf("exclusive range: %+v", es)
	}
}

// testStreamGroups: entries go once to one consumer; unacknowledged ones
// are claimed after the idle time with their delivery counts; dead
// letters keep the reason and are acknowledged.
func testStreamGroups(t *testing.T, s store.Store, p string) {
	st := streams(t, s)
	key, ver, stream, dead := streamKeys(p, "g")
	for v := uint64(1); v <= 4; v++ {
		if _, _, err := st.Publish(ctx(t), store.Publication{Key: key, VerKey: ver, Stream: stream, Value: []byte{byte(v)}, Version: v, TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := st.GroupRead(ctx(t), stream, "grp", "c1", 10, 0)
	must(t, err)
	if len(es) != 4 || es[0].Deliveries != 1 {
		t.Fatalf("group read %+v", es)
	}
	if more, err := st.GroupRead(ctx(t), stream, "grp", "c2", 10, 0); err != nil || len(more) != 0 {
		t.Fatalf("a second consumer got %d delivered entries, %v", len(more), err)
	}
	must(t, st.Ack(ctx(t), stream, "grp", es[0].ID))
	if n, err := st.Pending(ctx(t), stream, "grp"); err != nil || n != 3 {
		t.Fatalf("pending %d, %v", n, err)
	}
	time.Sleep(30 * time.Millisecond)
	claimed, next, err := st.Claim(ctx(t), stream, "grp", "c2", 10*time.Millisecond, "0-0", 10)
	must(t, err)
	if len(claimed) != 3 || claimed[0].Deliveries != 2 || next != "0-0" {
		t.Fatalf("claimed %+v, next %s", claimed, next)
	}
	must(t, st.DeadLetter(ctx(t), stream, "grp", dead, claimed[0], "boom"))
	ds, err := st.Range(ctx(t), dead, "-", "+", 10)
	must(t, err)
	if len(ds) != 1 || ds[0].Reason != "boom" || ds[0].Version != claimed[0].Version {
		t.Fatalf("dead letters %+v", ds)
	}
	if n, _ := st.Pending(ctx(t), stream, "grp"); n != 2 {
		t.Fatalf("pending %d after a dead letter", n)
	}
}

// testRoster: members announced are listed until their TTL passes, each
// with the time it has left, an announcement renews a member, and limit
// bounds the answer.
func testRoster(t *testing.T, s store.Store, p string) {
	names := func(m []store.Member) string {
		out := make([]string, len(m))
		for i, x := range m {
			out[i] = x.Name
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
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
		if names(m) == "a,b" {
			// The time left is the TTL less what has passed since the
			// announcement: at most a minute, and (on a machine that
			// is not stalled for half a minute) more than half of it.
			for _, x := range m {
				if x.TTL > time.Minute || x.TTL < 30*time.Second {
					t.Fatalf("Members: %s has %v left of a minute", x.Name, x.TTL)
				}
			}
			break
		}
		if time.Now().After(deadline) || len(m) != 3 {
			t.Fatalf("Members = %v, want a,b (and short until it expires)", m)
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

// testReleaseWakes checks store.ReleaseWatcher, for a store that offers
// it: a release by DeleteIfEqual wakes the key's watchers and no one
// else's. An announcement may be missed while a subscription is being made
// (the contract is at most once), so the lock is taken and released again
// until the watcher wakes, within 10 s.
func testReleaseWakes(t *testing.T, s store.Store, p string) {
	w, ok := s.(store.ReleaseWatcher)
	if !ok {
		t.Logf("%T announces no releases: lock waiters poll", s)
		return
	}
	released, stop := w.WatchRelease(p + "lock")
	defer stop()
	other, stopOther := w.WatchRelease(p + "other")
	defer stopOther()
	deadline := time.Now().Add(10 * time.Second)
	for woken := false; !woken; {
		must(t, s.Set(ctx(t), p+"other", []byte("x"), time.Minute))
		if ok, err := s.SetNX(ctx(t), p+"lock", []byte("token-a"), time.Minute); err != nil || !ok {
			t.Fatalf("SetNX = %v, %v", ok, err)
		}
		if ok, err := s.DeleteIfEqual(ctx(t), p+"other", []byte("y")); err != nil || ok {
			t.Fatalf("DeleteIfEqual with another value = %v, %v", ok, err)
		}
		if ok, err := s.DeleteIfEqual(ctx(t), p+"lock", []byte("token-a")); err != nil || !ok {
			t.Fatalf("DeleteIfEqual = %v, %v", ok, err)
		}
		select {
		case <-released:
			woken = true
		case <-time.After(50 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no watcher woken within 10 s of repeated releases")
			}
		}
	}
	select {
	case <-other:
		t.Fatal("a watcher of a key that was not released (DeleteIfEqual refused) was woken")
	default:
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
