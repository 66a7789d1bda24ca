// Package tradecache is a caching layer over Redis for trading systems:
// market data, portfolio and risk calculations, and user sessions.
//
// A Cache encodes values with an exact, versioned codec (decimals keep
// their scale, times keep their zone), stores them under namespaced keys
// with per-namespace TTL policies, and runs on Redis (through rueidis) or on
// an embedded in-memory store with the same behaviour.
//
// Data flows one way: caller → Cache (keys, TTL policy, stats) → codec
// (bytes) → store (Redis or memory). Nothing below the Cache knows about
// trading, and nothing above it talks to Redis directly.
//
//	cache, err := tradecache.New(ctx, tradecache.Config{})  // in-memory
//	quotes := cache.Namespace(tradecache.NamespaceMarketData)
//	err = quotes.Set(ctx, "AAPL", quote, 0)                   // TTL from the policy
//	found, err := quotes.Get(ctx, "AAPL", &quote)
package tradecache

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/guard"
	"github.com/tradecache/tradecache/store/memstore"
	"github.com/tradecache/tradecache/store/redisstore"
)

// Cache is the caching layer. Create it with New; it is safe for
// concurrent use. Its methods act on the "default" namespace; use
// Namespace for the others.
type Cache struct {
	cfg       Config // with defaults applied
	store     store.Store
	ownsStore bool
	backend   string
	topology  string         // rueidis's mode for Redis: standalone, sentinel or cluster
	codec     *codec.Codec   // for namespaces without a policy of their own
	keys      *codec.Keyring // nil without EncryptionKeys
	guard     *guard.Store   // nil on the in-process store
	health    healthChecker
	log       *slog.Logger
	logSlow   bool
	metrics   *recorder  // nil when EnableMetrics is off
	otel      *otelHooks // nil unless WithOpenTelemetry
	timing    bool       // time operations: slow-op logs or metrics need it

	namespaces sync.Map // name -> *Namespace
	def        *Namespace
	bufs       sync.Pool // *[]byte encode buffers

	closed atomic.Bool
	warned sync.Map // message -> *rateLimit

	flights     flights // loads in progress (GetOrLoad)
	nearFlushes atomic.Uint64
	known       lastKnown // last known values, for serving stale when the store is down

	hits, misses, sets, deletes, errors       atomic.Uint64
	loads, loadErrors, refreshes, staleServed atomic.Uint64
}

// Option customizes New.
type Option func(*options)

type options struct {
	store          store.Store
	logger         *slog.Logger
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
}

// WithStore makes the Cache use s instead of building a store from the
// configuration. The Cache does not close a store it was given.
func WithStore(s store.Store) Option { return func(o *options) { o.store = s } }

// WithLogger sets the logger for slow operations and failures. The default
// is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// New validates cfg and returns a Cache. Unless WithStore is given, it
// connects to Redis when cfg.Redis is set (and checks the connection with a
// PING bounded by ctx), and otherwise runs on the embedded in-memory store.
func New(ctx context.Context, cfg Config, opts ...Option) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg = cfg.withDefaults()
	c := &Cache{cfg: cfg, log: o.logger, logSlow: *cfg.LogSlowOps}
	if *cfg.EnableMetrics {
		c.metrics = &recorder{}
	}
	c.timing = c.logSlow || c.metrics != nil
	c.known.limit = int64(cfg.LocalStaleEntries)
	if len(cfg.EncryptionKeys) > 0 {
		ring, err := codec.NewKeyring(cfg.EncryptionKeys...)
		if err != nil {
			return nil, err
		}
		c.keys = ring
	}
	var err error
	if c.codec, err = c.newCodec(NamespaceConfig{}); err != nil {
		return nil, err
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	switch {
	case o.store != nil:
		c.store, c.backend = o.store, fmt.Sprintf("%T", o.store)
		if _, inProcess := o.store.(*memstore.Store); !inProcess {
			if err := c.guardStore(); err != nil {
				return nil, err
			}
		}
	case cfg.Redis.Enabled():
		opt, err := cfg.clientOption()
		if err != nil {
			return nil, err
		}
		if cfg.wantsNear() {
			// Server-assisted client-side caching for the near tiers:
			// rueidis tracks the keys read through it and passes the
			// server's invalidations on.
			opt.DisableCache = false
			opt.OnInvalidations = c.onInvalidations
			// rueidis keeps its own byte copies of tracked values per
			// connection; the near tiers hold the decoded ones, so its
			// share stays modest (its default is 128 MiB per connection).
			opt.CacheSizeEachConn = 16 << 20
		}
		s, err := redisstore.New(ctx, opt)
		if err != nil {
			return nil, &OpError{Op: "connect", Err: err}
		}
		c.store, c.ownsStore, c.backend, c.topology = s, true, "redis", s.Mode()
		if err := c.guardStore(); err != nil {
			s.Close()
			return nil, err
		}
	default:
		s, err := memstore.New(memstore.Options{MaxBytes: cfg.MemoryMaxBytes})
		if err != nil {
			return nil, err
		}
		c.store, c.ownsStore, c.backend = s, true, "memory"
	}
	if c.otel, err = newOtel(o.tracerProvider, o.meterProvider, c.backend); err != nil {
		return nil, err
	}
	c.timing = c.timing || c.otel != nil
	c.def = c.Namespace(NamespaceDefault)
	c.startHealth()
	return c, nil
}

// guardStore puts deadlines and a circuit breaker in front of the store.
// The in-process store needs neither: it cannot be unreachable.
func (c *Cache) guardStore() error {
	g, err := guard.New(c.store, guard.Options{
		OpTimeout:           c.cfg.OpTimeout,
		BatchTimeout:        c.cfg.BatchTimeout,
		ConsecutiveFailures: uint32(c.cfg.BreakerFailures),
		OpenTimeout:         c.cfg.BreakerOpenTimeout,
		Logger:              c.log,
	})
	if err != nil {
		return err
	}
	c.guard, c.store = g, g
	return nil
}

// newCodec builds the codec for a namespace policy p; zero fields take the
// Cache's settings.
func (c *Cache) newCodec(p NamespaceConfig) (*codec.Codec, error) {
	opts := codec.Options{
		Compression:       c.cfg.Compression,
		CompressThreshold: c.cfg.CompressThreshold,
		MaxDecodedSize:    c.cfg.MaxDecodedSize,
		Keys:              c.keys,
		Seal:              p.Seal != nil && *p.Seal,
	}
	if p.Compression != "" {
		opts.Compression = p.Compression
	}
	if p.CompressThreshold != 0 {
		opts.CompressThreshold = p.CompressThreshold
	}
	return codec.New(opts)
}

// policyFor returns namespace name's policy, with the session namespace
// sealed by default once keys are configured.
func (c *Cache) policyFor(name string) (NamespaceConfig, bool) {
	p, ok := c.cfg.Namespaces[name]
	if name == NamespaceSession && p.Seal == nil && c.keys != nil {
		p.Seal, ok = ptr(true), true
	}
	return p, ok
}

// clientOption turns the Redis settings into rueidis options.
func (cfg Config) clientOption() (rueidis.ClientOption, error) {
	var opt rueidis.ClientOption
	if cfg.Redis.URL != "" {
		var err error
		if opt, err = rueidis.ParseURL(cfg.Redis.URL); err != nil {
			return opt, &ConfigError{Fields: []FieldError{{Field: "Redis.URL", Env: "REDIS_URL", Value: redactURL(cfg.Redis.URL), Reason: err.Error()}}}
		}
	} else {
		host := cfg.Redis.Host
		switch {
		case len(cfg.Redis.ClusterAddrs) > 0:
			opt.InitAddress = append([]string(nil), cfg.Redis.ClusterAddrs...)
		case len(cfg.Redis.SentinelAddrs) > 0:
			opt.InitAddress = append([]string(nil), cfg.Redis.SentinelAddrs...)
			opt.Sentinel.MasterSet = cfg.Redis.SentinelMaster
			opt.Sentinel.Username, opt.Sentinel.Password = cfg.Redis.SentinelUsername, cfg.Redis.SentinelPassword
		default:
			opt.InitAddress = []string{net.JoinHostPort(cfg.Redis.Host, strconv.Itoa(cfg.Redis.Port))}
			opt.Standalone.ReplicaAddress = append([]string(nil), cfg.Redis.ReplicaAddrs...)
		}
		if host == "" || len(cfg.Redis.topology()) > 0 {
			host, _, _ = net.SplitHostPort(opt.InitAddress[0])
		}
		opt.Username, opt.Password, opt.SelectDB = cfg.Redis.Username, cfg.Redis.Password, cfg.Redis.DB
		if cfg.Redis.tlsWanted() {
			opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
	}
	if opt.TLSConfig != nil || cfg.Redis.tlsWanted() {
		if opt.TLSConfig == nil { // redis:// URL with TLS files: TLS all the same
			host, _, _ := net.SplitHostPort(opt.InitAddress[0])
			opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := cfg.Redis.applyTLS(opt.TLSConfig); err != nil {
			return opt, err
		}
		if opt.Sentinel.MasterSet != "" {
			opt.Sentinel.TLSConfig = opt.TLSConfig.Clone() // sentinels and data nodes share one CA
		}
	}
	if opt.Sentinel.MasterSet != "" {
		// Sentinel tracking is otherwise driven only by +switch-master
		// events; a periodic check against the sentinels recovers from a
		// missed one (rueidis recommends a few seconds).
		opt.Sentinel.TopologyRefreshInterval = 2 * time.Second
		opt.Sentinel.Dialer.Timeout = time.Second
	}
	// Several seed addresses without a master set can only be a cluster
	// (a single address may be one too; rueidis finds out on connecting).
	cluster := len(cfg.Redis.ClusterAddrs) > 0 || len(opt.InitAddress) > 1 && opt.Sentinel.MasterSet == ""
	if cluster {
		// rueidis refreshes a cluster's slot map when a command fails, but
		// while a dead shard's breaker is open few commands reach it; a
		// periodic CLUSTER SLOTS finds the promoted replica within a
		// second regardless (measured: writes resumed 1.4s after the
		// promotion without it).
		opt.ClusterOption.ShardsRefreshInterval = time.Second
	}
	if send := cfg.replicaReads(); send != nil {
		opt.SendToReplicas = send
	} else if len(opt.Standalone.ReplicaAddress) > 0 {
		// rueidis insists on a policy when replicas are listed.
		opt.SendToReplicas = func(rueidis.Completed) bool { return false }
	}
	// rueidis multiplexes ordinary commands over a few pipelined
	// connections; MaxConnections bounds the pool used for blocking
	// commands. Two pipelined connections and a 20µs flush delay were the
	// fastest settings measured here at 50 goroutines (4.4µs/op and p99
	// 0.63ms for a decoded quote, against 5.7µs and 0.72ms for raw rueidis
	// with its defaults; see bench_test.go): the delay lets each write
	// carry more commands, which saves syscalls on a CPU-bound box, and
	// costs a serial caller nothing measurable because its next command
	// waits for a reply anyway.
	opt.BlockingPoolSize = cfg.Redis.MaxConnections
	opt.PipelineMultiplex = 0
	// On a cluster the load is already spread over a connection per node;
	// a second one each thinned every pipeline out (measured with
	// BenchmarkCluster at 50 goroutines: 7.4µs per Get with two
	// connections per node, 5.8µs with one).
	if cfg.Redis.MaxConnections >= 2 && !cluster {
		opt.PipelineMultiplex = 1
	}
	switch {
	case cfg.Redis.MaxFlushDelay > 0:
		opt.MaxFlushDelay = cfg.Redis.MaxFlushDelay
	case cfg.Redis.MaxFlushDelay == 0:
		opt.MaxFlushDelay = DefaultMaxFlushDelay
	}
	// rueidis retries read-only commands on network errors with backoff
	// until the ctx ends, so a GET against a dead Redis would hang for the
	// caller's whole deadline. A cache must answer quickly instead (and let
	// get-or-load fall back to its loader or a stale value): one quick
	// retry covers a connection that was reset and redials at once.
	opt.RetryDelay = func(attempts int, _ rueidis.Completed, _ error) time.Duration {
		if attempts > 1 {
			return -1
		}
		return time.Millisecond
	}
	if opt.Dialer.Timeout == 0 {
		opt.Dialer.Timeout = time.Second // a data-center dial; rueidis's default is 5s
	}
	// The cache does not use rueidis's client-side caching yet; turning it
	// off skips CLIENT TRACKING on every connection.
	opt.DisableCache = true
	opt.ClientName = "tradecache"
	return opt, nil
}

// replicaReads returns the rueidis policy that sends the read-only
// commands of replica-read namespaces to replicas, or nil when no
// namespace reads from replicas. It looks at the command's first key,
// "prefix:namespace:...", so that lock, version and write commands, and
// every other namespace, stay on the primary.
func (cfg Config) replicaReads() func(rueidis.Completed) bool {
	all := false
	set := map[string]bool{}
	for _, ns := range cfg.Redis.ReplicaReads {
		if ns == "*" {
			all = true
		}
		set[ns] = true
	}
	for ns, p := range cfg.Namespaces {
		if p.ReadFromReplica {
			set[ns] = true
		}
	}
	if !all && len(set) == 0 {
		return nil
	}
	prefix := cfg.withDefaults().KeyPrefix + ":"
	return func(cmd rueidis.Completed) bool {
		if !cmd.IsReadOnly() {
			return false
		}
		args := cmd.Commands()
		if len(args) < 2 {
			return false
		}
		rest, ok := strings.CutPrefix(args[1], prefix)
		if !ok {
			return false
		}
		if all {
			return true
		}
		ns, _, ok := strings.Cut(rest, ":")
		return ok && set[ns]
	}
}

// errClosed is what operations on a closed Cache return.
var errClosed = fmt.Errorf("%w: cache closed", ErrUnavailable)

// applyTLS loads the CA bundle and client certificate into c. File errors
// come back as a *ConfigError naming the variable.
func (r RedisConfig) applyTLS(c *tls.Config) error {
	if r.TLSServerName != "" {
		c.ServerName = r.TLSServerName
	}
	if r.TLSCAFile != "" {
		pem, err := os.ReadFile(r.TLSCAFile)
		if err != nil {
			return &ConfigError{Fields: []FieldError{{Field: "Redis.TLSCAFile", Env: "REDIS_TLS_CA_FILE", Value: r.TLSCAFile, Reason: err.Error()}}}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return &ConfigError{Fields: []FieldError{{Field: "Redis.TLSCAFile", Env: "REDIS_TLS_CA_FILE", Value: r.TLSCAFile, Reason: "no PEM certificates in it"}}}
		}
		c.RootCAs = pool
	}
	if r.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(r.TLSCertFile, r.TLSKeyFile)
		if err != nil {
			return &ConfigError{Fields: []FieldError{{Field: "Redis.TLSCertFile", Env: "REDIS_TLS_CERT_FILE", Value: r.TLSCertFile, Reason: err.Error()}}}
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return nil
}

// Close releases the store if the Cache created it. Operations after Close
// fail with ErrUnavailable, whoever owns the store. Close is idempotent.
func (c *Cache) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.health.stop()
	if c.ownsStore {
		return c.store.Close()
	}
	return nil
}

// Config returns the configuration in force, defaults applied.
func (c *Cache) Config() Config { return c.cfg }

// Backend names the store in use: "memory", "redis", or the Go type of a
// store given with WithStore.
func (c *Cache) Backend() string { return c.backend }

// Topology names the Redis deployment the client found: "standalone",
// "sentinel" or "cluster"; "" for other stores.
func (c *Cache) Topology() string { return c.topology }

// Ping checks that the store answers.
func (c *Cache) Ping(ctx context.Context) error {
	if c.closed.Load() {
		return &OpError{Op: "ping", Err: errClosed}
	}
	if err := c.store.Ping(ctx); err != nil {
		return &OpError{Op: "ping", Err: err}
	}
	return nil
}

// Set stores value under key in the default namespace. See Namespace.Set.
func (c *Cache) Set(ctx context.Context, key string, value any, ttl time.Duration) error {
	return c.def.Set(ctx, key, value, ttl)
}

// Get reads key from the default namespace into dst. See Namespace.Get.
func (c *Cache) Get(ctx context.Context, key string, dst any) (bool, error) {
	return c.def.Get(ctx, key, dst)
}

// Delete removes keys from the default namespace. See Namespace.Delete.
func (c *Cache) Delete(ctx context.Context, keys ...string) (int64, error) {
	return c.def.Delete(ctx, keys...)
}

// Exists reports whether key exists in the default namespace.
func (c *Cache) Exists(ctx context.Context, key string) (bool, error) {
	return c.def.Exists(ctx, key)
}

// TTL returns key's remaining TTL in the default namespace. See
// Namespace.TTL.
func (c *Cache) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	return c.def.TTL(ctx, key)
}

// Expire sets key's TTL in the default namespace. See Namespace.Expire.
func (c *Cache) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return c.def.Expire(ctx, key, ttl)
}

// SetMany stores items in the default namespace. See Namespace.SetMany.
func (c *Cache) SetMany(ctx context.Context, items map[string]any, ttl time.Duration) error {
	return c.def.SetMany(ctx, items, ttl)
}

// GetMany reads keys from the default namespace into the map dst points
// to. See Namespace.GetMany.
func (c *Cache) GetMany(ctx context.Context, keys []string, dst any) (int, error) {
	return c.def.GetMany(ctx, keys, dst)
}

// ClearNamespace removes every key of namespace ns and returns how many it
// removed. See Namespace.Clear.
func (c *Cache) ClearNamespace(ctx context.Context, ns string) (int64, error) {
	return c.Namespace(ns).Clear(ctx)
}

// Stats are the Cache's counters since New.
type Stats struct {
	Backend  string
	Topology string // standalone, sentinel or cluster, for Redis
	Hits     uint64
	Misses   uint64
	Sets     uint64
	Deletes  uint64
	Errors   uint64
	// Get-or-load: loader calls, loader failures, early refreshes started,
	// and stale values served because a loader or the store failed.
	Loads, LoadErrors, Refreshes, StaleServed uint64
	// Breaker is the circuit breaker's state ("none" on the in-process
	// store) and BreakerTransitions its transitions and fast failures.
	Breaker            string
	BreakerTransitions guard.Transitions

	// ErrorRate is Errors over all counted operations (hits, misses, sets,
	// deletes and errors).
	ErrorRate float64
	// ErrorsByKind splits Errors: unavailable, timeout, permission,
	// serialization, other.
	ErrorsByKind map[string]uint64
	// Ops has latency percentiles per kind of operation (get, set, ...),
	// when EnableMetrics is on.
	Ops map[string]OpStats
	// Namespaces breaks the counts down by namespace.
	Namespaces map[string]NamespaceStats
	// Connections is what the Redis client was configured with: pipelined
	// connections (multiplexed by rueidis) and the blocking-command pool.
	PipelinedConnections, BlockingPoolSize int
	// Redis holds INFO figures; nil on the in-memory store or when INFO
	// failed.
	Redis *RedisInfo
	// Near cache, over every namespace that has one: hits, misses,
	// evictions, entries and approximate bytes held, and whole-tier flushes
	// (on a lost connection).
	NearHits, NearMisses, NearEvictions, NearFlushes uint64
	NearEntries                                      int
	NearBytes                                        int64
}

// HitRate is Hits / (Hits + Misses), or 0 before any read.
func (s Stats) HitRate() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// Stats returns the Cache's counters. The ctx is for the store figures a
// later version adds; counters never block.
func (c *Cache) Stats(ctx context.Context) Stats {
	st := Stats{
		Backend:  c.backend,
		Topology: c.topology,
		Hits:     c.hits.Load(),
		Misses:   c.misses.Load(),
		Sets:     c.sets.Load(),
		Deletes:  c.deletes.Load(),
		Errors:   c.errors.Load(),

		Loads:       c.loads.Load(),
		LoadErrors:  c.loadErrors.Load(),
		Refreshes:   c.refreshes.Load(),
		StaleServed: c.staleServed.Load(),
		Breaker:     "none",
	}
	if c.guard != nil {
		st.Breaker = c.guard.BreakerState().String()
		st.BreakerTransitions = c.guard.Transitions()
	}
	if c.backend == "redis" {
		st.BlockingPoolSize = c.cfg.Redis.MaxConnections
		st.PipelinedConnections = 1
		if c.cfg.Redis.MaxConnections >= 2 {
			st.PipelinedConnections = 2
		}
	}
	st.ErrorRate = ratio(st.Errors, st.Hits+st.Misses+st.Sets+st.Deletes+st.Errors)
	st.NearFlushes = c.nearFlushes.Load()
	c.namespaces.Range(func(_, v any) bool {
		if t := v.(*Namespace).near; t != nil {
			h, m, e, b := t.stats()
			st.NearHits += h
			st.NearMisses += m
			st.NearEvictions += t.evict.Load()
			st.NearEntries += e
			st.NearBytes += b
		}
		return true
	})
	c.collectMetrics(ctx, &st)
	return st
}

// LatencyBuckets returns, for operation op, how many calls took at most
// each of bounds (cumulative, as Prometheus buckets are), the total count
// and the sum of latencies. ok is false when metrics are off or op is not
// an operation name.
func (c *Cache) LatencyBuckets(op string, bounds []time.Duration) (cumulative []uint64, count uint64, sum time.Duration, ok bool) {
	k, ok := opIndex(op)
	if !ok || c.metrics == nil {
		return nil, 0, 0, false
	}
	h := &c.metrics.lat[k]
	cumulative = make([]uint64, len(bounds))
	for i, b := range bounds {
		cumulative[i] = h.CountAtMost(b)
	}
	return cumulative, h.Count(), h.Sum(), true
}

// OpNames lists the operation names that Stats.Ops and LatencyBuckets use.
func OpNames() []string { return append([]string(nil), opNames[:]...) }

// warnLimited logs a warning at most once per second per message, with
// how many were suppressed since: during an outage every call fails, and a
// log line per call would bury the one that matters.
func (c *Cache) warnLimited(msg string, args ...any) {
	v, _ := c.warned.LoadOrStore(msg, &rateLimit{})
	rl := v.(*rateLimit)
	now := time.Now().UnixNano()
	last := rl.last.Load()
	if now-last < int64(time.Second) || !rl.last.CompareAndSwap(last, now) {
		rl.suppressed.Add(1)
		return
	}
	c.log.Warn(msg, append(args, "suppressed_since_last", rl.suppressed.Swap(0))...)
}

type rateLimit struct {
	last       atomic.Int64
	suppressed atomic.Int64
}

// observe records a store call of n: its latency (when metrics are on),
// a failure (counted by kind; failed writes also logged, rate-limited, since
// a write is never retried and the log is where it is seen) and a slow
// operation. The key is hashed in the log so that no session token or
// account id leaks.
func (c *Cache) observe(ctx context.Context, n *Namespace, k opKind, key string, start time.Time, size int, err error) {
	ns, op := n.name, opNames[k]
	if err != nil {
		n.failed(k, err)
		switch k {
		case opSet, opSetMany, opDelete, opExpire, opClear:
			c.warnLimited("tradecache: write failed, not retried", "op", op, "namespace", ns, "error", err)
		}
	}
	if !c.timing || start.IsZero() {
		return
	}
	d := time.Since(start)
	if c.metrics != nil {
		c.metrics.lat[k].Record(d)
	}
	if c.otel != nil {
		c.otel.record(ctx, op, ns, start, err)
	}
	if !c.logSlow {
		return
	}
	if d >= c.cfg.SlowOpThreshold {
		h := fnv.New64a()
		h.Write([]byte(key))
		c.log.Warn("tradecache: slow operation", "op", op, "namespace", ns,
			"key_hash", fmt.Sprintf("%016x", h.Sum64()), "duration", d, "bytes", size, "error", err)
	}
}
