package feed_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/keyslot"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/internal/testkit"
	"github.com/tradecache/tradecache/trading"
	"github.com/tradecache/tradecache/trading/feed"
)

// consumeThroughFault publishes quotes for a few symbols at a steady rate
// while a consumer group consumes them, causes fault, and checks that
// consuming continues without a restart of this process: every update
// whose publish was acknowledged after the store recovered is consumed,
// and no call hangs. It returns how many acknowledged before the fault
// were never consumed (lost with the server's data), for the caller to
// judge and report.
func consumeThroughFault(t *testing.T, c *tradecache.Cache, fault func()) (acked, lostBefore int) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := feed.New(c, feed.Options{Block: 100 * time.Millisecond, Retry: 20 * time.Millisecond})
	syms := []string{"FA", "FB", "FC", "FD"}

	var mu sync.Mutex
	type pub struct {
		at  time.Time
		sym string
		seq uint64
	}
	var pubs []pub
	consumed := map[string]bool{}
	var slowest time.Duration

	cctx, stopConsumer := context.WithCancel(ctx)
	consumerDone := make(chan error, 1)
	go func() {
		consumerDone <- f.Consume(cctx, "book", "c1", syms, func(_ context.Context, u feed.Update) error {
			mu.Lock()
			consumed[fmt.Sprintf("%s/%d", u.Symbol, u.Quote.Seq)] = true
			mu.Unlock()
			return nil
		}, feed.ConsumeOptions{MinIdle: time.Second})
	}()
	pctx, stopPublisher := context.WithCancel(ctx)
	pubDone := make(chan struct{})
	var recovered time.Time // the first acknowledged publish after the fault was over
	var faultAt, faultOver time.Time
	go func() {
		defer close(pubDone)
		for seq := uint64(1); pctx.Err() == nil; seq++ {
			for _, s := range syms {
				t0 := time.Now()
				ok, err := f.Publish(pctx, quote(s, seq))
				d := time.Since(t0)
				mu.Lock()
				slowest = max(slowest, d)
				if err == nil && ok {
					pubs = append(pubs, pub{time.Now(), s, seq})
					if !faultOver.IsZero() && recovered.IsZero() {
						recovered = time.Now()
					}
				}
				mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(time.Second)
	mu.Lock()
	faultAt = time.Now()
	mu.Unlock()
	fault()
	mu.Lock()
	faultOver = time.Now()
	mu.Unlock()
	// Publish for a while after recovery.
	for deadline := time.Now().Add(45 * time.Second); ; {
		mu.Lock()
		r := recovered
		mu.Unlock()
		if !r.IsZero() && time.Since(r) > 2*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("publishing never recovered after the fault")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopPublisher()
	<-pubDone
	// Everything acknowledged after recovery is consumed.
	missing := func() (after, before int) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range pubs {
			if consumed[fmt.Sprintf("%s/%d", p.sym, p.seq)] {
				continue
			}
			if p.at.After(recovered) {
				after++
			} else if p.at.Before(faultAt) {
				before++
			}
		}
		return after, before
	}
	var after int
	if !testkit.Poll(30*time.Second, func() bool { after, lostBefore = missing(); return after == 0 }) {
		t.Fatalf("%d updates acknowledged after recovery were never consumed", after)
	}
	stopConsumer()
	if err := <-consumerDone; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// Bounded calls: the guard bounds each publish by the op timeout (2 s
	// here, for busy machines) plus the pause of a breaker probe.
	if slowest > 5*time.Second {
		t.Errorf("a publish took %v during the fault", slowest)
	}
	t.Logf("%d publishes acknowledged; the fault lasted %v (kill to failover done); slowest publish %v; %d acknowledged before the fault never consumed",
		len(pubs), faultOver.Sub(faultAt).Round(time.Millisecond), slowest.Round(time.Millisecond), lostBefore)
	return len(pubs), lostBefore
}

// kill -9 and restart of a Redis without persistence: the restarted server
// is empty, and consuming goes on (the group is created again) for
// everything published after it.
func TestConsumingSurvivesARedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	c := newCache(t, tradecache.Config{Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr}})
	_, lost := consumeThroughFault(t, c, func() { srv.Restart(t) })
	t.Logf("without persistence, what was not consumed before the kill is gone with the server (%d here)", lost)
}

// A Sentinel failover: the master is killed, the replica promoted. The
// namespace waits for one replica (StreamReplicas: master and replica, a
// majority of the two): no update whose publish was acknowledged so may be
// lost. (Without it, an update the master acknowledged and had not yet
// sent to its replica is lost with it; the cluster test measures that.)
func TestConsumingSurvivesASentinelFailover(t *testing.T) {
	g := redistest.StartSentinel(t)
	c := newCache(t, tradecache.Config{Redis: tradecache.RedisConfig{SentinelAddrs: g.Addrs(), SentinelMaster: redistest.MasterName},
		Namespaces: map[string]tradecache.NamespaceConfig{tradecache.NamespaceMarketData: {StreamReplicas: 1, StreamReplicaTimeout: time.Second}}})
	old := g.Master
	acked, lost := consumeThroughFault(t, c, func() {
		old.Kill()
		g.WaitFailover(t, old, 20*time.Second)
		// Until a replica is back, no publish is acknowledged by two:
		// each fails with ErrNotReplicated. The old master restarts and
		// the sentinels make it the new master's replica.
		old.Restart(t)
	})
	t.Logf("acknowledged by master and replica: %d of %d lost in the failover", lost, acked)
	if lost != 0 {
		t.Fatalf("%d updates acknowledged by a majority were lost", lost)
	}
}

// A cluster master holding the symbols' slots is killed; its replica takes
// over and consuming goes on. Publishes here do not wait for replicas:
// what asynchronous replication loses is measured.
func TestConsumingSurvivesAClusterMasterKill(t *testing.T) {
	cl := redistest.StartCluster(t)
	c := newCache(t, tradecache.Config{Redis: tradecache.RedisConfig{ClusterAddrs: cl.Addrs()}})
	full := "trading:" + tradecache.NamespaceMarketData + ":" + trading.Key("FA", trading.KindQuote)
	slot := keyslot.Of(full)
	acked, lost := consumeThroughFault(t, c, func() {
		m := cl.Master(t, slot)
		m.Kill()
		cl.WaitMaster(t, slot, m, 30*time.Second)
	})
	t.Logf("asynchronous replication: %d of %d acknowledged updates lost with the killed master", lost, acked)
}
