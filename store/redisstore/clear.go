package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/rueidis"
)

// clearCluster deletes every key under prefix on a cluster.
//
// Each master is scanned, in parallel. A scan sees only the node it runs
// on, so a key that a resharding moves while the scans run can escape: it
// leaves a master not yet scanned for one already scanned. Which slots
// could hold such keys is known afterwards: those whose owner changed
// between the slot maps taken before and after the scans, and those that
// a master was migrating or importing at either time. Those slots are
// swept again, key by key (CLUSTER GETKEYSINSLOT): first on the master
// that owned the slot before, then on every other one, because keys only
// move away from the slot's old owner. A migration that begins after the
// second map is taken is not covered; the window is the sweep's, not the
// scan's.
func (s *Store) clearCluster(ctx context.Context, prefix, pattern string, batch int) (int64, error) {
	masters, err := s.masters(ctx)
	if err != nil {
		return 0, err
	}
	before, err := readSlotMap(ctx, masters)
	if err != nil {
		return 0, err
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int64
		first error
	)
	for _, m := range masters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.scanHook != nil {
				s.scanHook(m.addr, true)
			}
			n, err := s.scanDelete(ctx, m.Client, pattern, batch)
			if s.scanHook != nil {
				s.scanHook(m.addr, false)
			}
			mu.Lock()
			total += n
			if err != nil && first == nil {
				first = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if first != nil {
		return total, first
	}
	after, err := readSlotMap(ctx, masters)
	if err != nil {
		return total, err
	}
	n, err := s.sweep(ctx, masters, before, after.movedSince(before), prefix)
	return total + n, err
}

// slotMap is a cluster's slot assignment as CLUSTER NODES reports it: the
// owner of each slot (a node id, "" for none), as the first master sees
// it, and the slots some master is migrating or importing, which only
// that master's own line shows.
type slotMap struct {
	owner  []string
	moving map[int]bool
	addrs  map[string]string // node id → host:port
}

func readSlotMap(ctx context.Context, masters []node) (slotMap, error) {
	m := slotMap{moving: map[int]bool{}, addrs: map[string]string{}}
	for i, n := range masters {
		text, err := n.Do(ctx, n.B().ClusterNodes().Build()).ToString()
		if err != nil {
			return m, classify(fmt.Errorf("redisstore: CLUSTER NODES on %s: %w", n.addr, err))
		}
		m.parse(text, i == 0)
	}
	return m, nil
}

// parse reads one node's CLUSTER NODES reply: every line's address, its
// own line's migrations, and (when owners) every master's slots. A line
// is `id host:port@bus[,hostname] flags master ping pong epoch link slot...`,
// a slot being `N`, `A-B`, or, on the node's own line, `[N->-id]`
// (migrating) or `[N-<-id]` (importing).
func (m *slotMap) parse(text string, owners bool) {
	if owners {
		m.owner = make([]string, 16384)
	}
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		id := f[0]
		addr, _, _ := strings.Cut(f[1], "@")
		m.addrs[id] = addr
		myself := strings.Contains(f[2], "myself")
		for _, sl := range f[8:] {
			if strings.HasPrefix(sl, "[") {
				if myself {
					num, _, _ := strings.Cut(strings.TrimPrefix(sl, "["), "-")
					if n, err := strconv.Atoi(num); err == nil && n >= 0 && n < 16384 {
						m.moving[n] = true
					}
				}
				continue
			}
			if !owners {
				continue
			}
			lo, hi, isRange := strings.Cut(sl, "-")
			if !isRange {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || a < 0 || b >= 16384 || a > b {
				continue
			}
			for n := a; n <= b; n++ {
				m.owner[n] = id
			}
		}
	}
}

// movedSince lists the slots whose owner differs from before's, or that
// a master was migrating or importing in either map.
func (m slotMap) movedSince(before slotMap) []int {
	var out []int
	for n := range 16384 {
		if m.owner[n] != before.owner[n] || m.moving[n] || before.moving[n] {
			out = append(out, n)
		}
	}
	return out
}

// sweep deletes prefix's keys in slots: on each slot's owner in before
// first, then on every master.
func (s *Store) sweep(ctx context.Context, masters []node, before slotMap, slots []int, prefix string) (int64, error) {
	if len(slots) == 0 {
		return 0, nil
	}
	byAddr := map[string]rueidis.Client{}
	for _, m := range masters {
		byAddr[m.addr] = m.Client
	}
	first := map[string][]int{} // old owner's address → its slots
	for _, sl := range slots {
		if a, ok := before.addrs[before.owner[sl]]; ok && byAddr[a] != nil {
			first[a] = append(first[a], sl)
		}
	}
	var total int64
	for addr, sls := range first {
		n, err := s.sweepNode(ctx, byAddr[addr], sls, prefix)
		total += n
		if err != nil {
			return total, err
		}
	}
	for _, m := range masters {
		n, err := s.sweepNode(ctx, m.Client, slots, prefix)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// sweepNode deletes the keys under prefix that node holds in slots: how
// many each slot holds (COUNTKEYSINSLOT), then those keys
// (GETKEYSINSLOT), each round one pipeline. The deletes go through the
// store's client, which routes them (and follows ASK during a migration).
func (s *Store) sweepNode(ctx context.Context, n rueidis.Client, slots []int, prefix string) (int64, error) {
	cmds := make(rueidis.Commands, len(slots))
	for i, sl := range slots {
		cmds[i] = n.B().ClusterCountkeysinslot().Slot(int64(sl)).Build()
	}
	var gets rueidis.Commands
	for i, r := range n.DoMulti(ctx, cmds...) {
		c, err := r.AsInt64()
		if err != nil {
			return 0, classify(err)
		}
		if c > 0 {
			gets = append(gets, n.B().ClusterGetkeysinslot().Slot(int64(slots[i])).Count(c).Build())
		}
	}
	var (
		keys  []string
		total int64
	)
	for _, r := range n.DoMulti(ctx, gets...) {
		ks, err := r.AsStrSlice()
		if err != nil {
			return total, classify(err)
		}
		for _, k := range ks {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
	}
	for len(keys) > 0 {
		page := keys[:min(len(keys), 1000)]
		keys = keys[len(page):]
		d, err := s.Delete(ctx, page...)
		total += d
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
