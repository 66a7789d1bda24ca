package redistest

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a running Redis Cluster of three masters, each with one
// replica, on loopback ports.
type Cluster struct {
	// Nodes holds the six servers. At start Nodes[0..2] are masters of
	// slots 0-5460, 5461-10922 and 10923-16383, and Nodes[i+3] replicates
	// Nodes[i]; a failover changes that, so ask Master for the present.
	Nodes []*Server
	ids   []string
}

// StartCluster starts six cluster-enabled servers, joins them into a
// cluster with CLUSTER ADDSLOTSRANGE, MEET and REPLICATE (what redis-cli
// --cluster create does, without its fixed sleeps), and waits until every
// node reports cluster_state:ok and every replica is in sync. Extra
// options apply to every node.
func StartCluster(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	opts = append([]Option{
		{"cluster-enabled", "yes"},
		{"cluster-config-file", "nodes.conf"},
		{"cluster-node-timeout", "2000"},
		// A fresh replica's offset stays 0, and CLUSTER SLOTS leaves it
		// out, until the master's first replication PING; the default
		// period is 10s.
		{"repl-ping-replica-period", "1"},
		// The bus would otherwise be the port plus 10000, which is past
		// 65535 for a fifth of the ephemeral ports.
		{"cluster-port", FreePortVar},
	}, opts...)
	c := &Cluster{}
	for range 6 {
		c.Nodes = append(c.Nodes, Start(t, opts...))
	}
	for i, n := range c.Nodes {
		id, err := DoString(n.Addr, "CLUSTER", "MYID")
		if err != nil {
			t.Fatalf("redistest: CLUSTER MYID on %s: %v (is cluster-enabled supported?)", n.Addr, err)
		}
		c.ids = append(c.ids, id)
		// Distinct epochs skip the collision resolution that would
		// otherwise run before the cluster settles.
		c.mustDo(t, n, "CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1))
	}
	ranges := [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}
	for i, r := range ranges {
		c.mustDo(t, c.Nodes[i], "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(r[0]), strconv.Itoa(r[1]))
	}
	// The bus listens on its own port (cluster-port), which MEET must name.
	v, err := Do(c.Nodes[0].Addr, "CONFIG", "GET", "cluster-port")
	bus, _ := v.([]any)
	if err != nil || len(bus) != 2 {
		t.Fatalf("redistest: CONFIG GET cluster-port on %s: %v %v", c.Nodes[0].Addr, v, err)
	}
	for _, n := range c.Nodes[1:] {
		c.mustDo(t, n, "CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(c.Nodes[0].Port), fmt.Sprint(bus[1]))
	}
	// A replica can only follow a master it already knows of.
	if err := waitFor(20*time.Second, func() error { return c.allKnowAll() }); err != nil {
		t.Fatalf("redistest: cluster nodes did not meet: %v", err)
	}
	for i := 3; i < 6; i++ {
		c.mustDo(t, c.Nodes[i], "CLUSTER", "REPLICATE", c.ids[i-3])
	}
	c.WaitHealthy(t, 30*time.Second)
	return c
}

func (c *Cluster) mustDo(t testing.TB, n *Server, args ...string) {
	t.Helper()
	if _, err := Do(n.Addr, args...); err != nil {
		t.Fatalf("redistest: %s on %s: %v", strings.Join(args, " "), n.Addr, err)
	}
}

func (c *Cluster) allKnowAll() error {
	for _, n := range c.Nodes {
		nodes, err := DoString(n.Addr, "CLUSTER", "NODES")
		if err != nil {
			return err
		}
		if got := strings.Count(strings.TrimSpace(nodes), "\n") + 1; got != len(c.Nodes) {
			return fmt.Errorf("%s knows %d nodes", n.Addr, got)
		}
		if strings.Contains(nodes, "handshake") || strings.Contains(nodes, "noaddr") {
			return fmt.Errorf("%s: handshakes pending", n.Addr)
		}
	}
	return nil
}

// Addrs returns every node's address, for rueidis's InitAddress or
// REDIS_CLUSTER_ADDRS.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// WaitHealthy waits until every live node reports cluster_state:ok with
// all 16384 slots served and every replica's link to its master is up.
func (c *Cluster) WaitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	if err := waitFor(timeout, c.healthy); err != nil {
		t.Fatalf("redistest: cluster not healthy after %v: %v", timeout, err)
	}
}

func (c *Cluster) healthy() error {
	for _, n := range c.Nodes {
		if !n.Alive() {
			continue
		}
		info, err := DoString(n.Addr, "CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if InfoField(info, "cluster_state") != "ok" || InfoField(info, "cluster_slots_ok") != "16384" {
			return fmt.Errorf("%s: state %s, slots ok %s", n.Addr, InfoField(info, "cluster_state"), InfoField(info, "cluster_slots_ok"))
		}
		repl, err := DoString(n.Addr, "INFO", "replication")
		if err != nil {
			return err
		}
		if InfoField(repl, "role") == "slave" && InfoField(repl, "master_link_status") != "up" {
			return fmt.Errorf("%s: replica link %s", n.Addr, InfoField(repl, "master_link_status"))
		}
		// CLUSTER SLOTS lists a replica only once the others have heard,
		// by gossip, of a replication offset from it; until then clients
		// that read from replicas find none.
		if err := c.replicasListed(n); err != nil {
			return err
		}
	}
	return nil
}

// replicasListed checks that node n's CLUSTER SLOTS names a replica for
// every slot range whose master has a live replica.
func (c *Cluster) replicasListed(n *Server) error {
	live := 0
	for _, m := range c.Nodes {
		if m.Alive() {
			live++
		}
	}
	v, err := Do(n.Addr, "CLUSTER", "SLOTS")
	if err != nil {
		return err
	}
	ranges, _ := v.([]any)
	listed := map[string]bool{}
	for _, r := range ranges {
		f, _ := r.([]any)
		for _, node := range f[2:] {
			if m, _ := node.([]any); len(m) >= 2 {
				listed[fmt.Sprintf("%v:%v", m[0], m[1])] = true
			}
		}
	}
	if len(listed) < live {
		return fmt.Errorf("%s lists %d of %d live nodes in CLUSTER SLOTS", n.Addr, len(listed), live)
	}
	return nil
}

// Master returns the node that a live node says serves slot now.
func (c *Cluster) Master(t testing.TB, slot uint16) *Server {
	t.Helper()
	for _, n := range c.Nodes {
		if !n.Alive() {
			continue
		}
		addr, err := c.masterAddr(n, slot)
		if err != nil {
			continue
		}
		for _, m := range c.Nodes {
			if m.Addr == addr {
				return m
			}
		}
	}
	t.Fatalf("redistest: no live node knows the master of slot %d", slot)
	return nil
}

// MasterAddr asks node n which address serves slot, from CLUSTER SLOTS.
func (c *Cluster) masterAddr(n *Server, slot uint16) (string, error) {
	v, err := Do(n.Addr, "CLUSTER", "SLOTS")
	if err != nil {
		return "", err
	}
	ranges, _ := v.([]any)
	for _, r := range ranges {
		f, _ := r.([]any)
		if len(f) < 3 {
			continue
		}
		lo, _ := f[0].(int64)
		hi, _ := f[1].(int64)
		if int64(slot) < lo || int64(slot) > hi {
			continue
		}
		m, _ := f[2].([]any)
		if len(m) < 2 {
			continue
		}
		host, _ := m[0].(string)
		port, _ := m[1].(int64)
		return fmt.Sprintf("%s:%d", host, port), nil
	}
	return "", fmt.Errorf("slot %d not served", slot)
}

// Agreed returns the master that every live node names for slot, and
// whether they all answered and agree.
func (c *Cluster) Agreed(slot uint16) (string, bool) {
	addr := ""
	for _, n := range c.Nodes {
		if !n.Alive() {
			continue
		}
		a, err := c.masterAddr(n, slot)
		if err != nil || addr != "" && a != addr {
			return "", false
		}
		addr = a
	}
	return addr, addr != ""
}

// WaitMaster waits until every live node agrees that slot is served by a
// master other than old, and returns it.
func (c *Cluster) WaitMaster(t testing.TB, slot uint16, old *Server, timeout time.Duration) *Server {
	t.Helper()
	var addr string
	err := waitFor(timeout, func() error {
		a, ok := c.Agreed(slot)
		if !ok || a == old.Addr {
			return fmt.Errorf("no agreed new master (last: %q)", a)
		}
		addr = a
		return nil
	})
	if err != nil {
		t.Fatalf("redistest: slot %d has no new master after %v: %v", slot, timeout, err)
	}
	for _, m := range c.Nodes {
		if m.Addr == addr {
			return m
		}
	}
	t.Fatalf("redistest: slot %d moved to unknown node %s", slot, addr)
	return nil
}

// ID returns node n's cluster node id.
func (c *Cluster) ID(n *Server) string {
	for i, m := range c.Nodes {
		if m == n {
			return c.ids[i]
		}
	}
	return ""
}

// BeginMigration starts moving slot from node src to node dst, as a
// reshard does: dst is set IMPORTING and src MIGRATING. Until
// FinishMigration, clients get -ASK for the slot's keys that have moved
// (and for keys that do not exist on src), and -TRYAGAIN for multi-key
// commands whose keys are split between the two.
func (c *Cluster) BeginMigration(t testing.TB, slot uint16, src, dst *Server) {
	t.Helper()
	s := strconv.Itoa(int(slot))
	c.mustDo(t, dst, "CLUSTER", "SETSLOT", s, "IMPORTING", c.ID(src))
	c.mustDo(t, src, "CLUSTER", "SETSLOT", s, "MIGRATING", c.ID(dst))
}

// MigrateKeys moves up to n of slot's keys from src to dst with MIGRATE
// and returns how many it moved.
func (c *Cluster) MigrateKeys(t testing.TB, slot uint16, src, dst *Server, n int) int {
	t.Helper()
	v, err := Do(src.Addr, "CLUSTER", "GETKEYSINSLOT", strconv.Itoa(int(slot)), strconv.Itoa(n))
	if err != nil {
		t.Fatalf("redistest: GETKEYSINSLOT on %s: %v", src.Addr, err)
	}
	keys, _ := v.([]any)
	if len(keys) == 0 {
		return 0
	}
	args := []string{"MIGRATE", "127.0.0.1", strconv.Itoa(dst.Port), "", "0", "5000"}
	if pw, ok := passwords.Load(dst.Addr); ok {
		args = append(args, "AUTH", pw.(string))
	}
	args = append(args, "KEYS")
	for _, k := range keys {
		args = append(args, fmt.Sprint(k))
	}
	if _, err := Do(src.Addr, args...); err != nil {
		t.Fatalf("redistest: MIGRATE from %s: %v", src.Addr, err)
	}
	return len(keys)
}

// FinishMigration moves slot's remaining keys and assigns the slot to dst
// on every master, ending the migration.
func (c *Cluster) FinishMigration(t testing.TB, slot uint16, src, dst *Server) {
	t.Helper()
	for c.MigrateKeys(t, slot, src, dst, 100) > 0 {
	}
	s := strconv.Itoa(int(slot))
	// The destination first, so the slot always has an owner that
	// accepts its keys (the order redis-cli uses).
	c.mustDo(t, dst, "CLUSTER", "SETSLOT", s, "NODE", c.ID(dst))
	c.mustDo(t, src, "CLUSTER", "SETSLOT", s, "NODE", c.ID(dst))
	for _, a := range c.Masters() {
		for _, n := range c.Nodes {
			if n.Addr == a && n != src && n != dst {
				c.mustDo(t, n, "CLUSTER", "SETSLOT", s, "NODE", c.ID(dst))
			}
		}
	}
}

// Reshard moves n slots from src to dst with `redis-cli --cluster
// reshard`, the tool operators use, and waits for the cluster to settle.
func (c *Cluster) Reshard(t testing.TB, src, dst *Server, n int) {
	t.Helper()
	cli := lookPath(t, tool("cli"))
	args := []string{"--cluster", "reshard", src.Addr,
		"--cluster-from", c.ID(src), "--cluster-to", c.ID(dst),
		"--cluster-slots", strconv.Itoa(n), "--cluster-yes",
		"--cluster-pipeline", "20"}
	if pw, ok := passwords.Load(src.Addr); ok {
		args = append(args, "-a", pw.(string), "--no-auth-warning")
	}
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster reshard: %v\n%s", err, tail(out, 2000))
	}
	c.WaitHealthy(t, 30*time.Second)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
