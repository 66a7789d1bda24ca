package redistest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SentinelInstallHint is what a test prints when sentinel mode is missing.
const SentinelInstallHint = "redis-sentinel not found in PATH: run `make test` (it installs it), or `apt-get update && apt-get install -y redis-sentinel`"

// MasterName is the name the sentinels monitor the master under.
const MasterName = "mymaster"

// SentinelGroup is a master, one replica and three sentinels that monitor
// the master with quorum 2, a 1s down-after and a 3s failover timeout.
type SentinelGroup struct {
	Master, Replica *Server // the roles at start; a failover swaps them
	Sentinels       []*Server
}

// StartSentinel starts the group and waits until the replica is in sync
// and every sentinel knows the replica and the two other sentinels, so a
// failover can be authorized as soon as the test causes one. opts apply
// to the master and the replica.
func StartSentinel(t testing.TB, opts ...Option) *SentinelGroup {
	t.Helper()
	return StartSentinelWith(t, SentinelOptions{}, opts...)
}

// SentinelOptions secure a Sentinel group. Zero fields mean none.
type SentinelOptions struct {
	// DataPass is the master's and replica's requirepass (and masterauth);
	// the sentinels get it as auth-pass.
	DataPass string
	// SentinelPass is the sentinels' own requirepass.
	SentinelPass string
	// Certs makes every server and sentinel TLS-only (TLSOptions).
	Certs *Certs
}

// StartSentinelWith is StartSentinel with passwords or TLS.
func StartSentinelWith(t testing.TB, so SentinelOptions, opts ...Option) *SentinelGroup {
	t.Helper()
	lookPath(t, tool("sentinel"))
	if so.DataPass != "" {
		opts = append([]Option{{"requirepass", so.DataPass}, {"masterauth", so.DataPass}}, opts...)
	}
	if so.Certs != nil {
		opts = append(TLSOptions(so.Certs), opts...)
	}
	g := &SentinelGroup{Master: Start(t, opts...)}
	g.Replica = Start(t, append([]Option{{"replicaof", "127.0.0.1 " + strconv.Itoa(g.Master.Port)}}, opts...)...)
	if err := waitFor(10*time.Second, func() error {
		info, err := DoString(g.Replica.Addr, "INFO", "replication")
		if err != nil {
			return err
		}
		if s := InfoField(info, "master_link_status"); s != "up" {
			return fmt.Errorf("replica link %s", s)
		}
		return nil
	}); err != nil {
		t.Fatalf("redistest: replica did not sync: %v", err)
	}
	for range 3 {
		g.Sentinels = append(g.Sentinels, startSentinel(t, g.Master.Port, so))
	}
	// Sentinels find each other and the replica through hello messages
	// every 2s.
	if err := waitFor(20*time.Second, func() error {
		for _, s := range g.Sentinels {
			v, err := Do(s.Addr, "SENTINEL", "MASTER", MasterName)
			if err != nil {
				return err
			}
			f := pairs(v)
			if f["num-other-sentinels"] != "2" || f["num-slaves"] != "1" {
				return fmt.Errorf("%s: %s other sentinels, %s replicas", s.Addr, f["num-other-sentinels"], f["num-slaves"])
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("redistest: sentinels did not settle: %v", err)
	}
	return g
}

func startSentinel(t testing.TB, masterPort int, so SentinelOptions) *Server {
	t.Helper()
	bin := lookPath(t, ServerBinary())
	var lastErr error
	for range 5 {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		listen := fmt.Sprintf("port %d", port)
		if c := so.Certs; c != nil {
			listen = fmt.Sprintf("port 0\ntls-port %d\ntls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-auth-clients no\ntls-replication yes",
				port, c.ServerCert, c.ServerKey, c.CA)
		}
		text := fmt.Sprintf(`%s
bind 127.0.0.1
dir %s
logfile %s
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 3000
`, listen, dir, filepath.Join(dir, "redis.log"), MasterName, masterPort, MasterName, MasterName)
		if so.DataPass != "" {
			text += fmt.Sprintf("sentinel auth-pass %s %s\n", MasterName, so.DataPass)
		}
		if so.SentinelPass != "" {
			text += fmt.Sprintf("requirepass %s\n", so.SentinelPass)
		}
		// The sentinel rewrites its config file, so it must be writable.
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, Dir: dir, bin: bin, args: []string{conf, "--sentinel"}}
		if so.Certs != nil {
			s.tls = harnessTLS
		}
		register(s.Addr, so.SentinelPass, s.tls != nil)
		t.Cleanup(s.Kill)
		if lastErr = s.run(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: could not start a sentinel: %v", lastErr)
	return nil
}

// Addrs returns the sentinels' addresses, for REDIS_SENTINEL_ADDRS.
func (g *SentinelGroup) Addrs() []string {
	out := make([]string, len(g.Sentinels))
	for i, s := range g.Sentinels {
		out[i] = s.Addr
	}
	return out
}

// MasterAddr returns the master's address as the first live sentinel
// reports it.
func (g *SentinelGroup) MasterAddr() (string, error) {
	var lastErr error
	for _, s := range g.Sentinels {
		v, err := Do(s.Addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName)
		if err != nil {
			lastErr = err
			continue
		}
		if a, ok := v.([]any); ok && len(a) == 2 {
			return net.JoinHostPort(fmt.Sprint(a[0]), fmt.Sprint(a[1])), nil
		}
	}
	return "", fmt.Errorf("no sentinel answered: %v", lastErr)
}

// AgreedMaster returns the master every live sentinel names, and whether
// they all answered and agree.
func (g *SentinelGroup) AgreedMaster() (string, bool) {
	addr := ""
	for _, s := range g.Sentinels {
		if !s.Alive() {
			continue
		}
		v, err := Do(s.Addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName)
		if err != nil {
			return "", false
		}
		a, _ := v.([]any)
		if len(a) != 2 {
			return "", false
		}
		got := net.JoinHostPort(fmt.Sprint(a[0]), fmt.Sprint(a[1]))
		if addr != "" && got != addr {
			return "", false
		}
		addr = got
	}
	return addr, addr != ""
}

// WaitFailover waits until every sentinel names a master other than old,
// and returns that server.
func (g *SentinelGroup) WaitFailover(t testing.TB, old *Server, timeout time.Duration) *Server {
	t.Helper()
	var addr string
	err := waitFor(timeout, func() error {
		a, ok := g.AgreedMaster()
		if !ok || a == old.Addr {
			return fmt.Errorf("no agreed new master (last: %q)", a)
		}
		addr = a
		return nil
	})
	if err != nil {
		t.Fatalf("redistest: no failover after %v: %v", timeout, err)
	}
	for _, s := range []*Server{g.Master, g.Replica} {
		if s.Addr == addr {
			return s
		}
	}
	t.Fatalf("redistest: sentinels name unknown master %s", addr)
	return nil
}

// pairs turns a flat [name, value, ...] reply into a map.
func pairs(v any) map[string]string {
	out := map[string]string{}
	a, _ := v.([]any)
	for i := 0; i+1 < len(a); i += 2 {
		out[fmt.Sprint(a[i])] = fmt.Sprint(a[i+1])
	}
	return out
}

// Role returns the "role" field of INFO replication on addr: "master" or
// "slave".
func Role(addr string) (string, error) {
	info, err := DoString(addr, "INFO", "replication")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(InfoField(info, "role")), nil
}
