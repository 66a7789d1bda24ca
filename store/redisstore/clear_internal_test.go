package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache/internal/keyslot"
	"github.com/tradecache/tradecache/internal/redistest"
)

// A resharding that moves a slot's keys while a cluster DeletePrefix runs
// must not let them escape. The test makes the escape happen for sure:
// the destination master is scanned first, then, before the source master
// is scanned, the slot moves from source to destination, so neither scan
// sees its keys. The sweep of moved slots must delete them, whether the
// migration finished during the scans or was left half done.
func TestClusterDeletePrefixWhileASlotMoves(t *testing.T) {
	cl := redistest.StartCluster(t)
	for _, finish := range []bool{true, false} {
		name := map[bool]string{true: "slot-moved", false: "slot-half-migrated"}[finish]
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := New(ctx, rueidis.ClientOption{InitAddress: cl.Addrs(), DisableCache: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			prefix := "clr-" + name + ":"
			tag := "{" + name + "}"
			slot := keyslot.Of(tag)
			src := cl.Master(t, slot)
			var dst *redistest.Server
			for _, a := range cl.Masters() {
				if a != src.Addr {
					for _, n := range cl.Nodes {
						if n.Addr == a {
							dst = n
						}
					}
					break
				}
			}
			// 200 keys in the slot that moves, 200 elsewhere, and 50 of
			// another prefix that must survive.
			var keys, others []string
			for i := range 200 {
				keys = append(keys, fmt.Sprintf("%s%s%d", prefix, tag, i), fmt.Sprintf("%s%d", prefix, i))
				if i < 50 {
					others = append(others, fmt.Sprintf("other-%s:%d", name, i))
				}
			}
			for _, k := range append(append([]string{}, keys...), others...) {
				if err := s.Set(ctx, k, []byte("v"), time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			dstDone := make(chan struct{})
			var moved int64
			s.scanHook = func(addr string, start bool) {
				switch {
				case addr == dst.Addr && !start:
					close(dstDone)
				case addr == src.Addr && start:
					<-dstDone
					cl.BeginMigration(t, slot, src, dst)
					if finish {
						v, _ := redistest.Do(src.Addr, "CLUSTER", "COUNTKEYSINSLOT", strconv.Itoa(int(slot)))
						moved, _ = v.(int64)
						cl.FinishMigration(t, slot, src, dst)
					} else {
						moved = int64(cl.MigrateKeys(t, slot, src, dst, 120))
					}
				}
			}
			n, err := s.DeletePrefix(ctx, prefix, 50)
			if err != nil {
				t.Fatal(err)
			}
			if moved < 100 {
				t.Fatalf("only %d keys moved during the scans: the test proved nothing", moved)
			}
			var left []string
			for _, k := range keys {
				if _, found, err := s.Get(ctx, k); err != nil {
					t.Fatal(err)
				} else if found {
					left = append(left, k)
				}
			}
			if len(left) > 0 {
				t.Fatalf("%d keys survived (%d moved during the scans), e.g. %s", len(left), moved, left[0])
			}
			if n != int64(len(keys)) {
				t.Fatalf("DeletePrefix counted %d, want %d", n, len(keys))
			}
			for _, k := range others {
				if _, found, err := s.Get(ctx, k); err != nil || !found {
					t.Fatalf("%s, of another prefix, is gone (%v)", k, err)
				}
			}
			if !finish {
				cl.FinishMigration(t, slot, src, dst)
			}
			t.Logf("%d keys moved while the masters were scanned; all %d deleted", moved, n)
		})
	}
}
