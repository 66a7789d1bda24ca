package tradecache

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/flight"
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
	clock     Clock
	store     store.Store
	ownsStore bool
	backend   string
	topology  string // for Redis: standalone, sentinel or cluster
	desc      store.Description
	codec     *codec.Codec       // for namespaces without a policy of their own
	keys      *codec.Keyring     // nil without EncryptionKeys
	guard     *guard.Store       // nil on the in-process store
	cached    store.CachedReader // the store's tracked reads; nil when it has none
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

	flights     flight.Group[loaded] // loads in progress (get-or-load)
	nearFlushes atomic.Uint64
	known       flight.Known[knownValue] // last known values, for serving stale when the store is down

	hits, misses, sets, deletes, errors       atomic.Uint64
	loads, loadErrors, refreshes, staleServed atomic.Uint64
}

// Option customizes New.
type Option func(*options)

type options struct {
	store          store.Store
	logger         *slog.Logger
	clock          Clock
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
	c := &Cache{cfg: cfg, log: o.logger, logSlow: *cfg.LogSlowOps, clock: o.clock}
	if c.clock == nil {
		c.clock = systemClock{}
	}
	if *cfg.EnableMetrics {
		c.metrics = &recorder{}
	}
	c.timing = c.logSlow || c.metrics != nil
	c.known.Limit = int64(cfg.LocalStaleEntries)
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
		if d, ok := o.store.(store.Describer); ok {
			c.desc = d.Describe()
			c.topology = c.desc.Topology
		}
		if _, inProcess := o.store.(*memstore.Store); !inProcess {
			if err := c.guardStore(); err != nil {
				return nil, err
			}
		}
	case cfg.Redis.Enabled():
		ro := cfg.redisOptions()
		if cfg.wantsNear() {
			// Server-assisted client-side caching for the near tiers: the
			// store tracks the keys read through it and passes the
			// server's invalidations on.
			ro.OnInvalidations = c.onInvalidations
		}
		s, err := redisstore.Open(ctx, ro)
		if err != nil {
			var oe *redisstore.OptionError
			if errors.As(err, &oe) {
				return nil, optionError(cfg, oe)
			}
			return nil, &OpError{Op: "connect", Err: err}
		}
		c.store, c.ownsStore = s, true
		c.desc = s.(store.Describer).Describe()
		c.backend, c.topology = c.desc.Backend, c.desc.Topology
		if err := c.guardStore(); err != nil {
			s.Close()
			return nil, err
		}
	default:
		s, err := memstore.New(memstore.Options{MaxBytes: cfg.MemoryMaxBytes, Now: c.clock.Now})
		if err != nil {
			return nil, err
		}
		c.store, c.ownsStore = s, true
		c.desc = s.Describe()
		c.backend = c.desc.Backend
	}
	c.cached, _ = c.store.(store.CachedReader)
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
	c.guard, c.store = g, g.Exposed()
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

// redisOptions maps the Redis settings onto the Redis store's options.
func (cfg Config) redisOptions() redisstore.Options {
	r := cfg.Redis
	o := redisstore.Options{
		URL: r.URL, ClusterAddrs: r.ClusterAddrs, SentinelAddrs: r.SentinelAddrs, SentinelMaster: r.SentinelMaster,
		SentinelUsername: r.SentinelUsername, SentinelPassword: r.SentinelPassword, ReplicaAddrs: r.ReplicaAddrs,
		Username: r.Username, Password: r.Password, DB: r.DB,
		TLS: r.SSL, TLSServerName: r.TLSServerName, TLSCAFile: r.TLSCAFile, TLSCertFile: r.TLSCertFile, TLSKeyFile: r.TLSKeyFile,
		MaxConnections: r.MaxConnections, MaxFlushDelay: r.MaxFlushDelay,
		ReplicaReadPrefixes: cfg.replicaReadPrefixes(),
	}
	if r.URL == "" && len(r.topology()) == 0 {
		o.Addr = net.JoinHostPort(r.Host, strconv.Itoa(r.Port))
	}
	return o
}

// optionError turns the Redis store's complaint about an option into a
// *ConfigError naming the setting and its variable.
func optionError(cfg Config, oe *redisstore.OptionError) error {
	fe := FieldError{Field: "Redis." + oe.Field, Reason: oe.Reason}
	switch oe.Field {
	case "URL":
		fe.Env, fe.Value = "REDIS_URL", redactURL(cfg.Redis.URL)
	case "TLSCAFile":
		fe.Env, fe.Value = "REDIS_TLS_CA_FILE", cfg.Redis.TLSCAFile
	case "TLSCertFile":
		fe.Env, fe.Value = "REDIS_TLS_CERT_FILE", cfg.Redis.TLSCertFile
	case "Addr":
		fe.Field, fe.Env = "Redis.Host", "REDIS_HOST"
	}
	return &ConfigError{Fields: []FieldError{fe}}
}

// replicaReadPrefixes lists the key prefixes whose reads go to replicas:
// the replica-read namespaces' ("prefix:namespace:"), or the whole
// prefix for "*"; nil when no namespace reads from replicas. Lock, version
// and write commands are never sent to replicas, whatever their key.
func (cfg Config) replicaReadPrefixes() []string {
	prefix := cfg.withDefaults().KeyPrefix + ":"
	set := map[string]bool{}
	for _, ns := range cfg.Redis.ReplicaReads {
		if ns == "*" {
			return []string{prefix}
		}
		set[ns] = true
	}
	for ns, p := range cfg.Namespaces {
		if p.ReadFromReplica {
			set[ns] = true
		}
	}
	var out []string
	for ns := range set {
		out = append(out, prefix+ns+":")
	}
	sort.Strings(out)
	return out
}

// errClosed is what operations on a closed Cache return.
var errClosed = fmt.Errorf("%w: cache closed", ErrUnavailable)

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
	if err := c.ping(ctx); err != nil {
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
	// Connections is what the store reports of its client: pipelined
	// connections (per node on a cluster) and the blocking-command pool.
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

// Stats returns the Cache's counters and, on a store that reports them
// (Redis), the server's INFO figures in Redis. Reading INFO is a round
// trip, bounded by ctx and by one second (on a cluster, one per master);
// the counters themselves are read without blocking.
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
	st.PipelinedConnections, st.BlockingPoolSize = c.desc.PipelinedConnections, c.desc.BlockingPoolSize
	st.ErrorRate = ratio(st.Errors, st.Hits+st.Misses+st.Sets+st.Deletes+st.Errors)
	st.NearFlushes = c.nearFlushes.Load()
	c.namespaces.Range(func(_, v any) bool {
		if t := v.(*Namespace).near; t != nil {
			h, m, e, b := t.Stats()
			st.NearHits += h
			st.NearMisses += m
			st.NearEvictions += t.Evictions()
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
