package tradecache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	*backend // the store, its clock and observer, shared with every namespace

	cfg    Config         // with defaults applied
	codec  *codec.Codec   // for namespaces without a policy of their own
	keys   *codec.Keyring // nil without EncryptionKeys
	health healthChecker

	namespaces     sync.Map // name -> *Namespace
	namespaceCount atomic.Int64
	def            *Namespace
	bufs           sync.Pool // *[]byte encode buffers
	closed         atomic.Bool

	flights      flight.Group[loaded] // loads in progress (get-or-load); Close stops them
	batchFlights flight.Group[any]    // GetManyOrLoad's loads, by their set of missing keys; Close stops them

	// loadsDone counts finished single-key loads, by a hash of the key: a
	// caller that read a miss before a load of its key finished, and starts
	// its own after it, reads the store again rather than loading over the
	// value that load stored. (Keys sharing a counter cost a read, never a
	// wrong value.)
	loadsDone   [256]atomic.Uint64
	nearFlushes atomic.Uint64
	known       flight.Known[knownValue] // last known values, for serving stale when the store is down

	loads, loadErrors, refreshes, staleServed atomic.Uint64
	serverChanges                             atomic.Uint64

	pub statsPublisher // the figures published for `tradecache stats` and `top`
}

// Namespace is a view of the Cache over one namespace, with that
// namespace's TTL policy. It is cheap: Cache.Namespace returns the same
// view for the same name, for the first MaxNamespaces names; past them a
// name gets a new view per call, counted in the totals only (see
// MaxNamespaces), so that names derived from user IDs do not grow the
// Cache.
//
// # Key grammar
//
// A value is stored under "<prefix>:<namespace>:<key>", for example
// "trading:market_data:AAPL".
//
//   - prefix (CACHE_KEY_PREFIX) and namespace are 1 to 64 of [A-Za-z0-9_.-].
//     Neither can hold a colon, so the first two colons of a stored key
//     always delimit them: no key in one namespace, however crafted, can
//     name a key in another namespace or under another prefix.
//   - key is 1 to MaxKeyLength bytes (default 512) of valid UTF-8 with no
//     whitespace and no control or format characters. Colons are allowed,
//     for hierarchical keys such as "AAPL:1m".
//
// A key or namespace that breaks the grammar fails with a *KeyError
// (errors.Is(err, ErrInvalidKey)) before anything is sent to the store.
type Namespace struct {
	ioPath       // its path to the store: codec, near tier, counts
	c            *Cache
	loadDefaults loadOpts
	ttl          time.Duration
	bad          string   // why name breaks the grammar, or ""
	pub          pubNames // the names of the keys it publishes to
}

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
	b := &backend{clock: o.clock, batch: cfg.MaxBatchSize, maxValue: cfg.MaxValueBytes,
		obs: &observer{log: o.logger, logSlow: *cfg.LogSlowOps, slowThreshold: cfg.SlowOpThreshold}}
	if b.clock == nil {
		b.clock = systemClock{}
	}
	if b.obs.log == nil {
		b.obs.log = slog.Default()
	}
	if *cfg.EnableMetrics {
		b.obs.rec = &recorder{}
	}
	c := &Cache{backend: b, cfg: cfg}
	// Before the store is opened: its first invalidations may come at once.
	b.known = &c.known
	b.inval = newInvalQueue(cfg.InvalidationQueue)
	b.tags = newTagState(b, cfg.KeyPrefix, b.inval)
	c.known.Limit, c.known.MaxBytes = int64(cfg.LocalStaleEntries), cfg.LocalStaleBytes
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
	c.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	if err := c.openStore(ctx, o); err != nil {
		return nil, err
	}
	c.wireStore()
	if b.obs.otel, err = newOtel(o.tracerProvider, o.meterProvider, b.kind); err != nil {
		if b.owns {
			b.store.Close() // opened here: nobody else will close it
		}
		return nil, err
	}
	b.obs.timing = b.obs.logSlow || b.obs.rec != nil || b.obs.otel != nil
	c.def = c.Namespace(NamespaceDefault)
	c.health.onServerChange = c.serverChanged
	c.health.onTick = c.drainInvalidations
	c.health.start(b, cfg.HealthInterval, cfg.OpTimeout)
	if *cfg.PublishStats {
		c.pub.start(c)
	}
	return c, nil
}

// openStore opens the Cache's store: the one given by WithStore, Redis
// when the configuration names it, or the in-memory store; a store other
// than the in-process one is guarded (bounds, breakers).
func (c *Cache) openStore(ctx context.Context, o options) error {
	b, cfg := c.backend, c.cfg
	switch {
	case o.store != nil:
		b.store, b.kind = o.store, fmt.Sprintf("%T", o.store)
		if d, ok := o.store.(store.Describer); ok {
			b.desc = d.Describe()
			b.topology = b.desc.Topology
		}
		if _, inProcess := o.store.(*memstore.Store); !inProcess {
			return c.guardStore()
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
				return optionError(cfg, oe)
			}
			return &OpError{Op: "connect", Err: err}
		}
		b.store, b.owns = s, true
		b.desc = s.(store.Describer).Describe()
		b.kind, b.topology = b.desc.Backend, b.desc.Topology
		if err := c.guardStore(); err != nil {
			s.Close()
			return err
		}
	default:
		if reason := addressRequired(cfg, nil); reason != "" {
			return &ConfigError{Fields: []FieldError{{Field: "Redis.Host", Env: "REDIS_HOST", Reason: reason}}}
		}
		b.obs.log.Info("tradecache: no Redis address configured (REDIS_URL, REDIS_HOST): using this process's in-memory store", "environment", cfg.Environment)
		s, err := memstore.New(memstore.Options{MaxBytes: cfg.MemoryMaxBytes, Now: b.clock.Now})
		if err != nil {
			return err
		}
		b.store, b.owns = s, true
		b.desc = s.Describe()
		b.kind = b.desc.Backend
	}
	return nil
}

// wireStore finds what the store does beyond store.Store: near-tier reads,
// lock release announcements and streams, each through the guard when
// there is one.
func (c *Cache) wireStore() {
	b := c.backend
	b.cached, _ = b.store.(store.CachedReader)
	if c.guard != nil {
		b.releases, _ = c.guard.Unwrap().(store.ReleaseWatcher)
		b.streams = c.guard.Streams()
	} else {
		b.releases, _ = b.store.(store.ReleaseWatcher)
		b.streams, _ = b.store.(store.Streams)
	}
}

// Namespace returns the view of namespace name. An invalid name is not
// reported here but by every operation on the view, as a *KeyError.
func (c *Cache) Namespace(name string) *Namespace {
	if n, ok := c.namespaces.Load(name); ok {
		return n.(*Namespace)
	}
	n := &Namespace{c: c, ioPath: ioPath{backend: c.backend, codec: c.codec, name: name, base: c.cfg.KeyPrefix + ":" + name + ":", hotName: name + ":"},
		ttl: c.cfg.ttlFor(name), bad: checkName(name)}
	if n.bad != "" {
		return n // not cached: arbitrary bad names must not grow the map
	}
	n.loadDefaults = defaultLoadOpts(n.ttl, c.cfg.Namespaces[name])
	// Names are bounded: a service that derives them from user IDs must
	// not grow the Cache. The first MaxNamespaces names are kept (their
	// figures are broken down by name; the first MaxNamespaceMetrics of
	// them with a latency histogram, made on first use); a name past
	// them works as any other, but is made anew on each call, counts in
	// the totals only, and is "_other" in metrics and spans. Names in
	// Config.Namespaces are always kept.
	_, configured := c.cfg.Namespaces[name]
	kept := c.namespaceCount.Add(1)
	if kept > MaxNamespaces && !configured {
		c.namespaceCount.Add(-1)
		n.counts.label = "_other"
	} else {
		n.counts.keepLat = c.obs.rec != nil && (kept <= MaxNamespaceMetrics || configured)
	}
	if p := c.cfg.Namespaces[name]; p.Near != nil && c.cached != nil {
		n.near = p.Near.tier()
		n.nearTTL = n.near.ReadTTL(n.ttl)
	}
	if p, ok := c.policyFor(name); ok {
		cd, err := c.newCodec(p)
		if err != nil {
			// Config.Validate checked every policy in New; this cannot
			// happen short of a bug, and must not pass silently.
			n.bad = "has an unusable policy: " + err.Error()
			return n
		}
		n.codec = cd
	}
	if n.counts.label == "_other" {
		return n
	}
	actual, loaded := c.namespaces.LoadOrStore(name, n)
	if loaded {
		c.namespaceCount.Add(-1)
	}
	return actual.(*Namespace)
}

// MaxNamespaces is how many namespace names a Cache keeps, with figures
// by name; MaxNamespaceMetrics how many of them get a latency histogram
// (36 KiB each, made on first use). A name past MaxNamespaces still works,
// but counts in the totals only and is "_other" in metrics and spans.
// Names given in Config.Namespaces are always kept.
const (
	MaxNamespaces       = 1024
	MaxNamespaceMetrics = 256
)

// guardStore puts deadlines and a circuit breaker in front of the store.
// The in-process store needs neither: it cannot be unreachable.
func (c *Cache) guardStore() error {
	g, err := guard.New(c.store, guard.Options{
		OpTimeout:           c.cfg.OpTimeout,
		BatchTimeout:        c.cfg.BatchTimeout,
		ConsecutiveFailures: uint32(c.cfg.BreakerFailures),
		OpenTimeout:         c.cfg.BreakerOpenTimeout,
		Logger:              c.obs.log,
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
		MaxDecodedSize:    max(c.cfg.MaxDecodedSize, c.cfg.MaxValueBytes), // what the Cache may write, it reads
		Keys:              c.keys,
		Seal:              p.Seal != nil && *p.Seal,
		Strict:            p.Strict,
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

// loadsOf is key's counter of finished loads.
func (c *Cache) loadsOf(full string) *atomic.Uint64 {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(full); i++ {
		h = (h ^ uint32(full[i])) * 16777619
	}
	return &c.loadsDone[h%uint32(len(c.loadsDone))]
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
	c.pub.stop()
	// Cancel the loads (single keys, refreshes, batches) and wait for
	// them: after Close returns no goroutine of the Cache runs, and a load
	// that returns meanwhile writes nothing. A loader that ignores its
	// context holds Close until it returns.
	c.flights.Stop()
	c.batchFlights.Stop()
	if c.owns {
		return c.store.Close()
	}
	return nil
}

// Config returns the configuration in force, defaults applied.
func (c *Cache) Config() Config { return c.cfg }

// Backend names the store in use: "memory", "redis", or the Go type of a
// store given with WithStore.
func (c *Cache) Backend() string { return c.kind }

// Topology names the Redis deployment the client found: "standalone",
// "sentinel" or "cluster"; "" for other stores.
func (c *Cache) Topology() string { return c.topology }

// Now is the Cache's time: the clock given by WithClock, or the system's.
// The Cache stamps values and judges their freshness by it; code built on
// a Cache that computes lifetimes of its own (trading.Sessions) reads it
// too, so that a test that moves the clock moves them all.
func (c *Cache) Now() time.Time { return c.now() }

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

// onInvalidations receives the server's invalidations from the store:
// keys, or nil when every tracked key is invalid (connection lost,
// FLUSHALL).
func (c *Cache) onInvalidations(keys []string) {
	if keys == nil {
		c.tags.invalidated("", true)
		c.namespaces.Range(func(_, v any) bool {
			if n := v.(*Namespace); n.near != nil {
				n.near.Flush()
			}
			return true
		})
		c.nearFlushes.Add(1)
		return
	}
	prefix := c.cfg.KeyPrefix + ":"
	for _, full := range keys {
		if !strings.HasPrefix(full, prefix) {
			continue
		}
		if tag, ok := strings.CutPrefix(full[len(prefix):], tagSegment); ok {
			c.tags.invalidated(tag, false)
			continue
		}
		nsName, key, ok := strings.Cut(full[len(prefix):], ":")
		if !ok {
			continue
		}
		if v, ok := c.namespaces.Load(nsName); ok {
			if n := v.(*Namespace); n.near != nil {
				n.near.Invalidate(key)
			}
		}
	}
}

// serverChanged is told that the server behind the store is another than
// before (its run_id changed): restarted, perhaps from an older snapshot,
// or failed over to a replica that was behind. What this process holds of
// the old one's data (near tiers, last known values) may now be newer than
// the store, or no longer in it, so it goes.
func (c *Cache) serverChanged(from, to string) {
	c.onInvalidations(nil)
	c.known.Clear()
	c.tags.forget()
	c.serverChanges.Add(1)
	c.obs.log.Warn("tradecache: the Redis server changed (restart or failover): near tiers and last known values dropped; data may have gone back to an older snapshot",
		"from_run_id", from, "to_run_id", to)
}
