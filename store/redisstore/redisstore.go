// Package redisstore is tradecache's Redis Store, built on
// github.com/redis/rueidis.
//
// rueidis was chosen over go-redis because it pipelines concurrent commands
// on a few shared connections instead of checking a connection out of a pool
// per call: on the 2-core machines this project is measured on it served
// twice go-redis's default-pool GET throughput at a third of the p99 (see
// shared/DESIGN.md). Every tradecache batch is a single rueidis round trip:
// GetMany is one MGET and SetMany one pipelined DoMulti of SET PX commands.
//
// One constructor serves every topology, as rueidis.NewClient does: a
// standalone server, a Sentinel group (ClientOption.Sentinel.MasterSet) or
// a Redis Cluster (found by asking the first address for CLUSTER SLOTS).
// On a cluster a multi-key command must stay within one hash slot, so
// GetMany sends one MGET per slot and Delete one UNLINK per slot, all in
// one DoMulti that rueidis splits by node and runs on every node's
// connection at once; DeletePrefix scans every master in parallel.
//
// Errors are classified so the layers above can act on them without parsing
// strings: connection failures match store.ErrUnavailable, deadlines match
// store.ErrTimeout (and context.DeadlineExceeded), and the caller's own
// cancellation is returned unchanged as context.Canceled.
package redisstore

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache/internal/keyslot"
	"github.com/tradecache/tradecache/store"
)

// Store is a store.Store over a rueidis client.
type Store struct {
	client  rueidis.Client
	cluster bool // multi-key commands must be split by hash slot
	// closed is checked by every call: rueidis v1.0.79's cluster client
	// answers a GET after Close with a nil reply, a miss, rather than
	// ErrClosing.
	closed atomic.Bool
	// groups are the circuit-breaker partitions of a cluster's slots;
	// nil means fixed groups (see Partitions).
	groups *slotGroups
	// scanHook, when set (by tests), is called as each master's scan of
	// a cluster DeletePrefix starts and ends.
	scanHook func(addr string, start bool)
	desc     store.Description
	releases *releases // DeleteIfEqual's announcements (releases.go)
	pubq     publishQueue
}

// errClosed is what calls after Close return.
var errClosed = fmt.Errorf("%w: redisstore: %w", store.ErrUnavailable, rueidis.ErrClosing)

var (
	_ store.Store          = (*Store)(nil)
	_ store.ReleaseWatcher = (*Store)(nil)
)

// New connects to Redis with opt and checks the connection with PING
// before returning, so a bad address or password fails here rather than on
// the first Get.
func New(ctx context.Context, opt rueidis.ClientOption) (*Store, error) {
	if len(opt.InitAddress) == 0 {
		return nil, errors.New("redisstore: ClientOption.InitAddress is empty")
	}
	if opt.SendToReplicas != nil && len(opt.InitAddress) > 1 && opt.Sentinel.MasterSet == "" {
		if masters, ok := seedMasters(ctx, opt); ok {
			opt.InitAddress = masters
		}
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		// The server's reply, when there is one, says what is wrong; only
		// a bare EOF needs the greeting asked for (maxclients).
		if _, isReply := rueidis.IsRedisErr(err); !isReply {
			if hint, ok := tlsRefusal(ctx, err, opt); ok {
				return nil, fmt.Errorf("%w: redisstore: connect %v: %s: %w", store.ErrAuth, opt.InitAddress, hint, err)
			}
			if said := serverSays(ctx, opt); said != "" {
				err = fmt.Errorf("%w (the server says: %s)", err, said)
			} else if hint := notSpokenTo(ctx, err, opt); hint != "" {
				return nil, fmt.Errorf("%w: redisstore: connect %v: %s: %w", store.ErrUnavailable, opt.InitAddress, hint, err)
			}
		}
		return nil, classify(fmt.Errorf("redisstore: connect %v: %w", opt.InitAddress, err))
	}
	s := NewFromClient(c)
	s.desc = describe(c, opt)
	if err := s.Ping(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if s.cluster {
		s.groups = readSlotGroups(ctx, c)
	}
	return s, nil
}

// seedMasters works around rueidis v1.0.79 on a cluster with replica
// reads: it keeps the connections it made to the seed addresses, made
// without READONLY, and uses them for the replicas among the seeds, which
// then answer every read with MOVED (measured here: all replica reads of a
// six-seed cluster went to the masters). Seeding it with masters only
// avoids that. It asks a throwaway client which seeds are masters, and
// reports false when that fails or the store is not a cluster, so that the
// caller keeps the seeds it was given.
func seedMasters(ctx context.Context, opt rueidis.ClientOption) ([]string, bool) {
	probe := opt
	probe.SendToReplicas, probe.DisableCache = nil, true
	c, err := rueidis.NewClient(probe)
	if err != nil {
		return nil, false
	}
	defer c.Close()
	if c.Mode() != rueidis.ClientModeCluster {
		return nil, false
	}
	masters, err := mastersOf(ctx, c)
	if err != nil {
		return nil, false
	}
	out := make([]string, len(masters))
	for i, m := range masters {
		out[i] = m.addr
	}
	return out, true
}

// serverSays dials the first address once more, without TLS, and returns
// the error line the server greets a new connection with, if any: Redis
// refuses a client past maxclients with "-ERR max number of clients
// reached" and closes the connection, which the client library reports only
// as EOF.
func serverSays(ctx context.Context, opt rueidis.ClientOption) string {
	if opt.TLSConfig != nil || opt.DialCtxFn != nil || len(opt.InitAddress) == 0 {
		return ""
	}
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	conn, err := d.DialContext(ctx, "tcp", opt.InitAddress[0])
	if err != nil {
		return ""
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return ""
	}
	buf := make([]byte, 256)
	n, _ := conn.Read(buf)
	if line := strings.TrimSpace(string(buf[:n])); strings.HasPrefix(line, "-") {
		return strings.TrimPrefix(line, "-")
	}
	return ""
}

// notSpokenTo says what a handshake that got no Redis reply at all most
// likely means, or "". A bare EOF or reset says only that the peer hung
// up: a PostgreSQL server does so after our HELLO, and so does a TLS-only
// Redis port spoken to in plain text. TLS spoken to a plain Redis port
// gets no answer at all (Redis waits for the end of a line that never
// comes) and times out; a PING in plain text then tells which it was.
func notSpokenTo(ctx context.Context, err error, opt rueidis.ClientOption) string {
	tlsOn := opt.TLSConfig != nil
	if tlsOn && opt.DialCtxFn == nil && len(opt.InitAddress) > 0 && answersPlainPing(ctx, opt.InitAddress[0]) {
		return "the server answers without TLS: use redis:// rather than rediss://, and REDIS_SSL unset"
	}
	switch {
	case !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
		return ""
	case tlsOn:
		return "the server closed the connection without a Redis reply: check that it is a Redis server"
	}
	return "the server closed the connection without a Redis reply: check that it is a Redis server, and whether its port serves TLS only (use rediss://)"
}

// tlsRefusal reports a TLS server that refused this client's credentials
// after the handshake, with what to do about it. In TLS 1.3 the client
// finishes its handshake before the server has checked the client's
// certificate; a server that wants one (tls-auth-clients yes) then sends
// an alert and hangs up. Depending on timing the client reads that alert
// ("remote error: tls: certificate required") or, when the hang-up arrives
// first as a reset of the connection it had written its HELLO on, only
// "connection reset by peer". In the second case it shakes hands once more
// and, writing nothing, reads what the server says.
func tlsRefusal(ctx context.Context, err error, opt rueidis.ClientOption) (string, bool) {
	if opt.TLSConfig == nil {
		return "", false
	}
	said := remoteAlert(err)
	if said == "" && opt.DialCtxFn == nil && len(opt.InitAddress) > 0 &&
		(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		said = alertAfterHandshake(ctx, opt.InitAddress[0], opt.TLSConfig)
	}
	if !certRefused(said) {
		return "", false
	}
	hint := "the server refused this client after the TLS handshake (" + said + ")"
	if len(opt.TLSConfig.Certificates) == 0 && opt.TLSConfig.GetClientCertificate == nil {
		hint += ": it requires a client certificate: set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE"
	} else {
		hint += ": check that the client certificate is signed by a CA the server trusts (its tls-ca-cert-file) and has not expired"
	}
	return hint, true
}

// certRefused reports a TLS alert that refuses this client's certificate,
// or its absence: an authentication failure, not an unreachable store.
func certRefused(alert string) bool {
	return strings.Contains(alert, "certificate") || strings.Contains(alert, "access denied")
}

// remoteAlert returns the alert a TLS peer sent, as crypto/tls words it
// ("tls: certificate required"), or "". crypto/tls reports a peer's alert
// only in its message (a net.OpError "remote error" around an unexported
// type; tls.AlertError is for QUIC).
func remoteAlert(err error) string {
	const remote = "remote error: "
	msg := err.Error()
	i := strings.Index(msg, remote)
	if i < 0 {
		return ""
	}
	return msg[i+len(remote):]
}

// alertAfterHandshake shakes hands with addr, writes nothing, and returns
// the alert the server sends before hanging up, or "".
func alertAfterHandshake(ctx context.Context, addr string, cfg *tls.Config) string {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 500 * time.Millisecond}, Config: cfg}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return remoteAlert(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	_, err = conn.Read(make([]byte, 1))
	if err == nil {
		return ""
	}
	return remoteAlert(err)
}

// answersPlainPing reports whether addr answers a PING in plain text as
// Redis does (PONG, or an error such as NOAUTH).
func answersPlainPing(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	conn, err := d.DialContext(context.WithoutCancel(ctx), "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	return bytes.HasPrefix(buf[:n], []byte("+PONG")) || bytes.HasPrefix(buf[:n], []byte("-"))
}

// NewFromClient wraps an existing rueidis client, for callers that build
// their own (to add hooks, say). Close closes it.
func NewFromClient(c rueidis.Client) *Store {
	return &Store{client: c, cluster: c.Mode() == rueidis.ClientModeCluster, desc: store.Description{Backend: "redis", Topology: string(c.Mode())},
		releases: newReleases(c)}
}

// Describe implements store.Describer.
func (s *Store) Describe() store.Description { return s.desc }

// Mode reports the topology the client found: standalone, sentinel or
// cluster.
func (s *Store) Mode() string { return string(s.client.Mode()) }

// Client returns the underlying rueidis client, for commands tradecache does
// not wrap. Commands sent through it bypass tradecache's key validation.
func (s *Store) Client() rueidis.Client { return s.client }

// refusals are the reply prefixes of a server that is up but will not run
// a command in its present state (store.ErrRefused).
var refusals = []string{"OOM", "READONLY", "CLUSTERDOWN", "MASTERDOWN", "LOADING", "BUSY", "MISCONF", "NOREPLICAS", "TRYAGAIN"}

// classify maps a rueidis error onto the store sentinels. Other Redis
// error replies (WRONGTYPE, ...) are returned unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if re, ok := rueidis.IsRedisErr(err); ok {
		msg := re.Error()
		switch {
		case strings.HasPrefix(msg, "NOPERM"):
			return fmt.Errorf("%w: %w", store.ErrNoPermission, err)
		case strings.HasPrefix(msg, "NOAUTH"):
			return fmt.Errorf("%w: the server requires a password: set REDIS_PASSWORD (and REDIS_USERNAME for an ACL user): %w", store.ErrAuth, err)
		case strings.HasPrefix(msg, "WRONGPASS"):
			return fmt.Errorf("%w: %w", store.ErrAuth, err)
		}
		for _, p := range refusals {
			if strings.HasPrefix(msg, p) {
				return fmt.Errorf("%w: %w", store.ErrRefused, err)
			}
		}
		return err
	}
	// From the handshake, not a reply to a command.
	switch msg := err.Error(); {
	case strings.Contains(msg, "unknown message type"):
		// An HTTP server answers '<' or 'H' where a RESP type byte should be.
		return fmt.Errorf("%w: not a Redis server (it answered outside the Redis protocol): check the address and port: %w", store.ErrUnavailable, err)
	case strings.Contains(msg, "WRONGPASS"):
		return fmt.Errorf("%w: %w", store.ErrAuth, err)
	case strings.Contains(msg, "NOAUTH"):
		return fmt.Errorf("%w: the server requires a password: set REDIS_PASSWORD (and REDIS_USERNAME for an ACL user): %w", store.ErrAuth, err)
	case certRefused(remoteAlert(err)):
		// The server's TLS alert refusing our certificate, or its absence.
		return fmt.Errorf("%w: the server refused this client's TLS certificate: %w", store.ErrAuth, err)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return fmt.Errorf("%w: %w", store.ErrTimeout, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", store.ErrTimeout, err)
	}
	if ne != nil || errors.Is(err, rueidis.ErrClosing) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// pxMillis converts a TTL to whole milliseconds, rounding up so that a
// sub-millisecond TTL still expires rather than being rejected by Redis.
func pxMillis(ttl time.Duration) int64 {
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms
}

func (s *Store) setCmd(key string, value []byte, ttl time.Duration) rueidis.Completed {
	b := s.client.B().Set().Key(key).Value(rueidis.BinaryString(value))
	if ttl > 0 {
		return b.PxMilliseconds(pxMillis(ttl)).Build()
	}
	return b.Build()
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, errClosed
	}
	return bytesReply(s.client.Do(ctx, s.client.B().Get().Key(key).Build()))
}

// bytesReply reads a GET-like reply: nil is a miss, an existing empty
// value is non-nil.
func bytesReply(r rueidis.RedisResult) ([]byte, bool, error) {
	v, err := r.AsBytes()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return nil, false, nil
		}
		return nil, false, classify(err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// GetMany implements store.Store with one MGET, or on a cluster one MGET
// per hash slot.
func (s *Store) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	if len(keys) == 0 {
		return nil, nil
	}
	if s.cluster {
		return s.getManyBySlot(ctx, keys)
	}
	arr, err := s.client.Do(ctx, s.client.B().Mget().Key(keys...).Build()).ToArray()
	if err != nil {
		return nil, classify(err)
	}
	out := make([][]byte, len(keys))
	return out, fillMget(out, nil, arr)
}

// getManyBySlot groups keys by hash slot, sends one MGET per slot in a
// single DoMulti (which rueidis pipelines to every node at once), and puts
// the replies back in the caller's order. A slot in mid-migration answers
// a multi-key MGET with TRYAGAIN; its keys are then read one GET each. When
// other slots fail (a shard down), the keys of the slots that answered are
// returned with a *store.PartialError naming the others, never as misses.
func (s *Store) getManyBySlot(ctx context.Context, keys []string) ([][]byte, error) {
	groups, order, cmds := slotCommands(keys, func(ks []string) rueidis.Completed { return s.client.B().Mget().Key(ks...).Build() })
	out := make([][]byte, len(keys))
	var f failures
	for j, r := range s.client.DoMulti(ctx, cmds...) {
		idx := groups[order[j]]
		arr, err := r.ToArray()
		if isTryAgain(err) {
			// The slot is being migrated and its keys are split between
			// two nodes: read them one by one, which ASK redirects serve.
			arr, err = s.getEach(ctx, keys, idx)
		}
		if err == nil {
			err = fillMget(out, idx, arr)
		}
		if err != nil {
			f.add(classify(err), idx...)
		}
	}
	err := f.err(len(keys))
	switch {
	case err == nil:
		return out, nil
	case len(f.failed) == len(keys):
		return nil, err
	}
	for _, i := range f.failed {
		out[i] = nil
	}
	return out, err
}

// failures collects which entries of a batch failed and why, and turns
// them into the batch's error: nil, the first cause when every entry
// failed, or a *store.PartialError.
type failures struct {
	failed []int
	causes []error
}

func (f *failures) add(err error, idx ...int) {
	f.failed = append(f.failed, idx...)
	for range idx {
		f.causes = append(f.causes, err)
	}
}

func (f *failures) err(n int) error {
	switch {
	case len(f.failed) == 0:
		return nil
	case len(f.failed) == n && oneCause(f.causes):
		return f.causes[0]
	}
	// Some entries failed, or all of them for different reasons (a dead
	// shard unreachable, the healthy ones answering CLUSTERDOWN): each
	// keeps its own cause, so that the guard charges each shard's breaker
	// with its own keys' outcome.
	return store.NewPartialError(f.failed, f.causes)
}

// oneCause reports whether every error of errs says the same.
func oneCause(errs []error) bool {
	causes, _ := store.Tally(errs)
	return len(causes) == 1
}

// isTryAgain reports a TRYAGAIN reply: a multi-key command on a slot whose
// keys are split by a migration in progress.
func isTryAgain(err error) bool {
	re, ok := rueidis.IsRedisErr(err)
	return ok && re.IsTryAgain()
}

// getEach reads keys[idx...] with one GET each, in one DoMulti, and returns
// the replies as an MGET would.
func (s *Store) getEach(ctx context.Context, keys []string, idx []int) ([]rueidis.RedisMessage, error) {
	cmds := make(rueidis.Commands, len(idx))
	for i, k := range idx {
		cmds[i] = s.client.B().Get().Key(keys[k]).Build()
	}
	out := make([]rueidis.RedisMessage, len(idx))
	for i, r := range s.client.DoMulti(ctx, cmds...) {
		m, err := r.ToMessage()
		if err != nil && !rueidis.IsRedisNil(err) {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// slotCommands groups keys by hash slot and builds one multi-key command
// per slot with build, in the order of bySlot.
func slotCommands(keys []string, build func([]string) rueidis.Completed) (map[uint16][]int, []uint16, rueidis.Commands) {
	groups, order := bySlot(keys)
	cmds := make(rueidis.Commands, len(order))
	for j, sl := range order {
		idx := groups[sl]
		ks := make([]string, len(idx))
		for i, k := range idx {
			ks[i] = keys[k]
		}
		cmds[j] = build(ks)
	}
	return groups, order, cmds
}

// bySlot groups the indexes of keys by hash slot; order lists the slots in
// the order they first appear.
func bySlot(keys []string) (groups map[uint16][]int, order []uint16) {
	groups = make(map[uint16][]int, len(keys))
	for i, k := range keys {
		sl := keyslot.Of(k)
		g, ok := groups[sl]
		if !ok {
			order = append(order, sl)
		}
		groups[sl] = append(g, i)
	}
	return groups, order
}

// fillMget copies an MGET reply into out: reply i goes to out[idx[i]], or
// to out[i] when idx is nil.
func fillMget(out [][]byte, idx []int, arr []rueidis.RedisMessage) error {
	want := len(out)
	if idx != nil {
		want = len(idx)
	}
	if len(arr) != want {
		return fmt.Errorf("redisstore: MGET of %d keys returned %d replies", want, len(arr))
	}
	for i := range arr {
		if arr[i].IsNil() {
			continue
		}
		b, err := arr[i].AsBytes()
		if err != nil {
			return classify(err)
		}
		if b == nil {
			b = []byte{}
		}
		if idx != nil {
			out[idx[i]] = b
		} else {
			out[i] = b
		}
	}
	return nil
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if s.closed.Load() {
		return errClosed
	}
	return classify(s.client.Do(ctx, s.setCmd(key, value, ttl)).Error())
}

// SetMany implements store.Store with one pipelined DoMulti (on a cluster,
// split by node and sent to all at once). When only some entries fail, it
// returns a *store.PartialError naming them.
func (s *Store) SetMany(ctx context.Context, entries []store.Entry) error {
	if s.closed.Load() {
		return errClosed
	}
	if len(entries) == 0 {
		return nil
	}
	cmds := make(rueidis.Commands, len(entries))
	for i, e := range entries {
		cmds[i] = s.setCmd(e.Key, e.Value, e.TTL)
	}
	// Some entries may be written (on a cluster, the live shards' share)
	// and others not: say which, and why.
	var f failures
	for i, r := range s.client.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			f.add(classify(err), i)
		}
	}
	return f.err(len(entries))
}

// SetNX implements store.Store with SET NX PX.
func (s *Store) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	if ttl <= 0 {
		return false, fmt.Errorf("redisstore: SetNX needs a positive TTL, got %v", ttl)
	}
	err := s.client.Do(ctx, s.client.B().Set().Key(key).Value(rueidis.BinaryString(value)).Nx().PxMilliseconds(pxMillis(ttl)).Build()).Error()
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	return err == nil, classify(err)
}

// deleteIfEqual compares and deletes in one step on the server. The key is
// its only key, so it stays within one slot on a cluster.
// It then announces the release on releaseChannel (see releases.go);
// pcall, because a user whose ACL forbids the channel must still be able
// to let go of its locks.
var deleteIfEqual = rueidis.NewLuaScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then
local n = redis.call("UNLINK", KEYS[1])
pcall(redis.call, "PUBLISH", ARGV[2], KEYS[1])
return n
end
return 0`)

// DeleteIfEqual implements store.Store with a Lua script (EVALSHA).
func (s *Store) DeleteIfEqual(ctx context.Context, key string, value []byte) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	n, err := deleteIfEqual.Exec(ctx, s.client, []string{key}, []string{rueidis.BinaryString(value), releaseChannel}).AsInt64()
	return n == 1, classify(err)
}

// setIfNewer compares versions as 20-digit zero-padded strings, so any
// uint64 compares exactly (Lua numbers are doubles). Both keys must hash to
// one slot on a cluster.
var setIfNewer = rueidis.NewLuaScript(`
local cur = redis.call("GET", KEYS[2])
if cur and cur >= ARGV[2] then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[3])
redis.call("SET", KEYS[2], ARGV[2], "PX", ARGV[3])
return 1`)

// versionArg is a version as the setIfNewer and publish scripts compare
// it: 20 digits, zero-padded, so that any uint64 orders as a string
// exactly as it does as a number (Lua's numbers are doubles).
func versionArg(v uint64) string {
	var b [20]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[:])
}

// SetIfNewer implements store.Store with one Lua script.
func (s *Store) SetIfNewer(ctx context.Context, key, verKey string, value []byte, version uint64, ttl time.Duration) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	if ttl <= 0 {
		return false, fmt.Errorf("redisstore: SetIfNewer needs a positive TTL, got %v", ttl)
	}
	n, err := setIfNewer.Exec(ctx, s.client, []string{key, verKey},
		[]string{rueidis.BinaryString(value), versionArg(version), fmt.Sprint(pxMillis(ttl))}).AsInt64()
	return n == 1, classify(err)
}

// announce adds ARGV[1] to the sorted set KEYS[1], scored by when it
// expires on the server's clock (ms), drops the expired members, and keeps
// the set itself at least as long as its newest member.
var announce = rueidis.NewLuaScript(`
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
redis.call("ZADD", KEYS[1], now + ttl, ARGV[1])
if redis.call("PTTL", KEYS[1]) < ttl then redis.call("PEXPIRE", KEYS[1], ttl) end
return 1`)

// members drops the expired members of KEYS[1] and returns at most
// ARGV[1] of the others, each followed by the milliseconds it has left.
var members = rueidis.NewLuaScript(`
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
local r = redis.call("ZRANGE", KEYS[1], "(" .. now, "+inf", "BYSCORE", "LIMIT", 0, tonumber(ARGV[1]), "WITHSCORES")
for i = 2, #r, 2 do r[i] = tostring(tonumber(r[i]) - now) end
return r`)

// Announce implements store.Store with one Lua script over a sorted set.
func (s *Store) Announce(ctx context.Context, key, member string, ttl time.Duration) error {
	if s.closed.Load() {
		return errClosed
	}
	if ttl <= 0 {
		return fmt.Errorf("redisstore: Announce needs a positive TTL, got %v", ttl)
	}
	return classify(announce.Exec(ctx, s.client, []string{key}, []string{member, fmt.Sprint(pxMillis(ttl))}).Error())
}

// Members implements store.Store with one Lua script over a sorted set.
func (s *Store) Members(ctx context.Context, key string, limit int) ([]store.Member, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	if limit <= 0 {
		return nil, nil
	}
	flat, err := members.Exec(ctx, s.client, []string{key}, []string{fmt.Sprint(limit)}).AsStrSlice()
	if err != nil {
		return nil, classify(err)
	}
	if len(flat)%2 != 0 {
		return nil, fmt.Errorf("redisstore: roster %q: %d items from the members script, not name and time pairs", key, len(flat))
	}
	out := make([]store.Member, 0, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		ms, err := strconv.ParseFloat(flat[i+1], 64)
		if err != nil {
			return nil, fmt.Errorf("redisstore: roster %q: member %q's time left %q: %w", key, flat[i], flat[i+1], err)
		}
		out = append(out, store.Member{Name: flat[i], TTL: time.Duration(ms * float64(time.Millisecond))})
	}
	return out, nil
}

// GetEx implements store.Store with GETEX PX.
func (s *Store) GetEx(ctx context.Context, key string, ttl time.Duration) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, errClosed
	}
	if ttl <= 0 {
		return nil, false, fmt.Errorf("redisstore: GetEx needs a positive TTL, got %v", ttl)
	}
	return bytesReply(s.client.Do(ctx, s.client.B().Getex().Key(key).PxMilliseconds(pxMillis(ttl)).Build()))
}

// Delete implements store.Store with UNLINK, which frees large values off
// Redis's main thread.
func (s *Store) Delete(ctx context.Context, keys ...string) (int64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	if len(keys) == 0 {
		return 0, nil
	}
	if !s.cluster {
		n, err := s.client.Do(ctx, s.client.B().Unlink().Key(keys...).Build()).AsInt64()
		return n, classify(err)
	}
	groups, order, cmds := slotCommands(keys, func(ks []string) rueidis.Completed { return s.client.B().Unlink().Key(ks...).Build() })
	var (
		total int64
		f     failures
	)
	for j, r := range s.client.DoMulti(ctx, cmds...) {
		idx := groups[order[j]]
		n, err := r.AsInt64()
		if isTryAgain(err) {
			// A slot split by a migration: one UNLINK per key instead.
			n, err = s.unlinkEach(ctx, keys, idx)
		}
		total += n
		if err != nil {
			// A slot's keys fail together (unlinkEach stops at the
			// first failure, so some of them may be gone: they count).
			f.add(classify(err), idx...)
		}
	}
	return total, f.err(len(keys))
}

// unlinkEach removes keys[idx...] with one UNLINK each.
func (s *Store) unlinkEach(ctx context.Context, keys []string, idx []int) (int64, error) {
	cmds := make(rueidis.Commands, len(idx))
	for i, k := range idx {
		cmds[i] = s.client.B().Unlink().Key(keys[k]).Build()
	}
	var total int64
	for _, r := range s.client.DoMulti(ctx, cmds...) {
		n, err := r.AsInt64()
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// Exists implements store.Store.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	n, err := s.client.Do(ctx, s.client.B().Exists().Key(key).Build()).AsInt64()
	return n > 0, classify(err)
}

// TTL implements store.Store with PTTL.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	if s.closed.Load() {
		return 0, false, errClosed
	}
	ms, err := s.client.Do(ctx, s.client.B().Pttl().Key(key).Build()).AsInt64()
	if err != nil {
		return 0, false, classify(err)
	}
	switch {
	case ms == -2:
		return 0, false, nil
	case ms == -1:
		return store.NoExpiry, true, nil
	default:
		return time.Duration(ms) * time.Millisecond, true, nil
	}
}

// Expire implements store.Store with PEXPIRE.
func (s *Store) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	if ttl <= 0 {
		return false, fmt.Errorf("redisstore: Expire needs a positive TTL, got %v", ttl)
	}
	n, err := s.client.Do(ctx, s.client.B().Pexpire().Key(key).Milliseconds(pxMillis(ttl)).Build()).AsInt64()
	return n == 1, classify(err)
}

// DeletePrefix implements store.Store: SCAN MATCH prefix* COUNT batch, and
// one UNLINK per page of keys found. SCAN does not block the server the way
// KEYS does, and UNLINK frees memory in the background. On a cluster every
// master holds part of the keyspace, so each is scanned, in parallel, and
// the slots that moved while they were scanned are swept again (see
// clearCluster).
func (s *Store) DeletePrefix(ctx context.Context, prefix string, batch int) (int64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	if batch <= 0 {
		batch = 1000
	}
	pattern := escapeGlob(prefix) + "*"
	if !s.cluster {
		return s.scanDelete(ctx, s.client, pattern, batch)
	}
	return s.clearCluster(ctx, prefix, pattern, batch)
}

// node is a cluster node's address and its client.
type node struct {
	addr string
	rueidis.Client
}

// masters returns every cluster node whose ROLE is master, by address.
// rueidis's node list also holds replicas when reads go to them, and a
// failed-over master can linger in it as a replica.
func (s *Store) masters(ctx context.Context) ([]node, error) { return mastersOf(ctx, s.client) }

// mastersOf is masters for any cluster client.
func mastersOf(ctx context.Context, client rueidis.Client) ([]node, error) {
	var out []node
	for addr, c := range client.Nodes() {
		role, err := c.Do(ctx, c.B().Role().Build()).ToArray()
		if err != nil {
			return nil, classify(fmt.Errorf("redisstore: ROLE of %s: %w", addr, err))
		}
		if len(role) > 0 {
			if r, _ := role[0].ToString(); r == "master" {
				out = append(out, node{addr, c})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: redisstore: no cluster master answered", store.ErrUnavailable)
	}
	slices.SortFunc(out, func(a, b node) int { return strings.Compare(a.addr, b.addr) })
	return out, nil
}

// scanDelete runs the SCAN loop on node and deletes what it finds through
// the store's own client, which routes each key to its slot's master.
func (s *Store) scanDelete(ctx context.Context, node rueidis.Client, pattern string, batch int) (int64, error) {
	var (
		cursor uint64
		total  int64
	)
	for {
		entry, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(pattern).Count(int64(batch)).Build()).AsScanEntry()
		if err != nil {
			return total, classify(err)
		}
		if len(entry.Elements) > 0 {
			n, err := s.Delete(ctx, entry.Elements...)
			total += n
			if err != nil {
				return total, err
			}
		}
		cursor = entry.Cursor
		if cursor == 0 {
			return total, nil
		}
	}
}

// escapeGlob escapes the characters SCAN MATCH treats as pattern syntax, so
// that a prefix only ever matches itself.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\^`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\', '^':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Info implements store.InfoReader with INFO. On a cluster it returns
// every master's INFO, one after the other, for the caller to add up.
func (s *Store) Info(ctx context.Context, sections ...string) (string, error) {
	if s.closed.Load() {
		return "", errClosed
	}
	if !s.cluster {
		v, err := s.client.Do(ctx, s.client.B().Info().Section(sections...).Build()).ToString()
		return v, classify(err)
	}
	masters, err := s.masters(ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, m := range masters {
		v, err := m.Do(ctx, m.B().Info().Section(sections...).Build()).ToString()
		if err != nil {
			return "", classify(err)
		}
		b.WriteString(v)
		b.WriteString("\r\n")
	}
	return b.String(), nil
}

// Ping implements store.Store. On a cluster a PING reaches one node and
// says nothing of the others, so Ping asks the nodes in turn for CLUSTER
// INFO until one answers, and fails with store.ErrUnavailable unless it
// reports cluster_state:ok, which needs every slot served.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	if !s.cluster {
		return classify(s.client.Do(ctx, s.client.B().Ping().Build()).Error())
	}
	var lastErr error
	for addr, node := range s.client.Nodes() {
		info, err := node.Do(ctx, node.B().ClusterInfo().Build()).ToString()
		if err != nil {
			lastErr = classify(fmt.Errorf("redisstore: CLUSTER INFO on %s: %w", addr, err))
			if ctx.Err() != nil {
				return lastErr
			}
			continue
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%w: redisstore: %s reports the cluster is not ok (not every slot is served)", store.ErrUnavailable, addr)
		}
		return nil
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("%w: redisstore: no cluster node known", store.ErrUnavailable)
	}
	return lastErr
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.releases.stop()
	s.client.Close()
	s.pubq.stop()
	return nil
}
