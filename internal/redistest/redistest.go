// Package redistest starts real redis-server processes for tests.
//
// Each server listens on a free loopback port, keeps its files in a
// t.TempDir, persists nothing, and is stopped by pid in t.Cleanup. Tests
// never touch port 6379 or any address off loopback. A machine without
// redis-server fails the test with a message that says how to install it:
// a missing server is never a silent skip.
package redistest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// InstallHint is what a test prints when redis-server is missing.
const InstallHint = "redis-server not found in PATH: run `make test` (it installs it), or `apt-get update && apt-get install -y redis-server redis-tools redis-sentinel`"

// ServerEnv names the environment variable that picks another server
// binary, such as valkey-server (`make test-valkey` sets it). The
// companion tools are found by name: valkey-cli, valkey-sentinel.
const ServerEnv = "REDISTEST_SERVER"

// ServerBinary returns the server binary the harness runs: $REDISTEST_SERVER,
// or redis-server.
func ServerBinary() string {
	if b := os.Getenv(ServerEnv); b != "" {
		return b
	}
	return "redis-server"
}

// tool returns the companion binary of the server in use: "cli" gives
// redis-cli or valkey-cli.
func tool(name string) string {
	return strings.TrimSuffix(ServerBinary(), "-server") + "-" + name
}

// lookPath finds bin, failing the test with how to install it.
func lookPath(t testing.TB, bin string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err == nil {
		return p
	}
	switch {
	case strings.HasPrefix(bin, "valkey"):
		t.Fatalf("%s not found in PATH: run `make test-valkey` (it installs valkey-server, valkey-tools and valkey-sentinel from bookworm-backports)", bin)
	case bin == "redis-sentinel":
		t.Fatal(SentinelInstallHint)
	case bin == "redis-cli":
		t.Fatal("redis-cli not found in PATH: run `make test` (it installs it), or `apt-get update && apt-get install -y redis-tools`")
	default:
		t.Fatal(InstallHint)
	}
	return ""
}

// Server is one running redis-server.
type Server struct {
	Addr   string // 127.0.0.1:port
	Port   int
	Dir    string // working directory, holding redis.log
	bin    string
	args   []string
	tls    *tls.Config // for the liveness PING of a TLS-only server
	cmd    *exec.Cmd
	exited chan error
}

// PortVar in an Option's value stands for the server's own port, and
// FreePortVar for another free port: Option{"cluster-port", FreePortVar}.
const (
	PortVar     = "$PORT"
	FreePortVar = "$FREEPORT"
)

// Option adds a configuration line to the server's command line, as
// "--name value...": Option{"maxmemory", "1mb"}. A value with spaces is
// split into arguments, as a config file line is.
type Option [2]string

// Start starts a redis-server and waits until it answers PING. It fails the
// test (never skips) when redis-server is missing or does not come up.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return startWith(t, func(port int) []string { return []string{"--port", strconv.Itoa(port)} }, nil, opts)
}

func startWith(t testing.TB, listen func(port int) []string, tlsCfg *tls.Config, opts []Option) *Server {
	t.Helper()
	bin := lookPath(t, ServerBinary())
	var lastErr error
	// A free port found by listening on :0 can be taken by someone else
	// before redis binds it; try a few ports before giving up.
	for attempt := 0; attempt < 5; attempt++ {
		s, err := start(t, bin, listen, tlsCfg, opts)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("redistest: could not start redis-server: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string, listen func(int) []string, tlsCfg *tls.Config, opts []Option) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	args := append(listen(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"),
		"--daemonize", "no",
		"--enable-debug-command", "local",
		// A replica's first sync would otherwise wait 5s for more
		// replicas to share one diskless transfer.
		"--repl-diskless-sync-delay", "0",
	)
	for _, o := range opts {
		v := strings.ReplaceAll(o[1], PortVar, strconv.Itoa(port))
		if strings.Contains(v, FreePortVar) {
			free, err := FreePort()
			if err != nil {
				return nil, err
			}
			v = strings.ReplaceAll(v, FreePortVar, strconv.Itoa(free))
		}
		// A value with spaces is several arguments, as in a config file
		// line: Option{"user", "app on >pw ~trading:* +@all"}.
		args = append(append(args, "--"+o[0]), strings.Fields(v)...)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, Dir: dir, bin: bin, args: args, tls: tlsCfg}
	pw, tlsOnly := "", false
	for _, o := range opts {
		switch o[0] {
		case "requirepass":
			pw = o[1] // so that Do authenticates to it
		case "tls-port":
			s.tls, tlsOnly = harnessTLS, true // so that Do speaks TLS to it
		}
	}
	register(s.Addr, pw, tlsOnly)
	t.Cleanup(s.Kill)
	if err := s.run(); err != nil {
		return nil, err
	}
	return s, nil
}

// run starts the process and waits for it to answer PING, and INFO with
// its own process id: a free port is only free until someone binds it,
// and tests and test binaries start servers at once (go test -p 4,
// parallel tests), so a PONG alone could come from another test's server
// that took the port first. On a mismatch run stops its own process and
// fails, and the caller tries another port.
func (s *Server) run() error {
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.cmd, s.exited = cmd, exited
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("redis-server exited early (%v): %s", err, s.log())
		default:
		}
		if err := ping(s.Addr, s.tls); err == nil {
			// Up: but is it this process? (A slow INFO on a busy
			// machine is asked again, like a slow PING.)
			if pid, err := processID(s.Addr, s.tls); err == nil {
				if pid != strconv.Itoa(cmd.Process.Pid) {
					s.Kill()
					return fmt.Errorf("%s is answered by another server (pid %s, not %d)", s.Addr, pid, cmd.Process.Pid)
				}
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer PING and INFO within 10s: %s", s.Addr, s.log())
}

// Kill stops the server with SIGKILL, as a crash would, and waits for it
// to exit. It is safe to call more than once.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	err := <-s.exited
	s.exited <- err
}

// Restart starts a killed server again on the same port, empty.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	var err error
	for attempt := 0; attempt < 50; attempt++ { // the port may linger briefly
		if err = s.run(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("redistest: restart on %s: %v", s.Addr, err)
}

func (s *Server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Alive reports whether the process is running.
func (s *Server) Alive() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case err := <-s.exited:
		s.exited <- err
		return false
	default:
		return true
	}
}

// Stop pauses the process with SIGSTOP, a black hole to its peers, until
// Continue.
func (s *Server) Stop() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Continue resumes a stopped process.
func (s *Server) Continue() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// Pid returns the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func ping(addr string, tlsCfg *tls.Config) error {
	c, err := dial(addr, tlsCfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	// PONG, or NOAUTH from a server with a password: either way it is up.
	if !strings.HasPrefix(line, "+PONG") && !strings.HasPrefix(line, "-NOAUTH") {
		return errors.New("unexpected reply: " + strings.TrimSpace(line))
	}
	return nil
}

// processID returns the process_id the server at addr reports, speaking
// as ping does (TLS with tlsCfg, which may carry the client certificate
// a mutual-TLS server requires), after AUTH when it has a password.
func processID(addr string, tlsCfg *tls.Config) (string, error) {
	c, err := dial(addr, tlsCfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if pw, ok := passwords.Load(addr); ok {
		if _, err := roundTrip(c, r, "AUTH", pw.(string)); err != nil {
			return "", err
		}
	}
	v, err := roundTrip(c, r, "INFO", "server")
	if err != nil {
		return "", err
	}
	info, _ := v.(string)
	return InfoField(info, "process_id"), nil
}

// dial connects to addr for the harness's liveness checks, over TLS when
// tlsCfg is set, with a short deadline for the whole exchange.
func dial(addr string, tlsCfg *tls.Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: 200 * time.Millisecond}
	var c net.Conn
	var err error
	if tlsCfg != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, tlsCfg)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	return c, nil
}
