package tradecache

import (
	"fmt"
	"strings"
	"time"

	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/near"
	"github.com/tradecache/tradecache/store/guard"
	"github.com/tradecache/tradecache/store/redisstore"
)

// Environment names a deployment environment. Each gets its own defaults
// (see Config), and an unknown name is a configuration error rather than a
// silent fallback, because a typo in CACHE_ENVIRONMENT should not quietly
// turn production metrics off.
type Environment string

// The environments CACHE_ENVIRONMENT accepts.
const (
	Development Environment = "development"
	Testing     Environment = "testing"
	Staging     Environment = "staging"
	Production  Environment = "production"
)

// Defaults of the layer tradecache replaces. A zero Config field means the
// default listed here.
const (
	DefaultTTL               = 3600 * time.Second
	DefaultMarketDataTTL     = 60 * time.Second
	DefaultPortfolioTTL      = 300 * time.Second
	DefaultRiskTTL           = 180 * time.Second
	DefaultSessionTTL        = 1800 * time.Second
	DefaultKeyPrefix         = "trading"
	DefaultCompressThreshold = 1024
	DefaultMaxBatchSize      = 100
	DefaultSlowOpThreshold   = 100 * time.Millisecond
	DefaultRedisPort         = 6379
	DefaultMaxKeyLength      = 512
	DefaultMemoryMaxBytes    = 256 << 20
	DefaultMaxFlushDelay     = redisstore.DefaultMaxFlushDelay
)

// Defaults that are not the replaced layer's (those are in config.go).
const (
	DefaultMaxValueBytes     = 16 << 20
	DefaultMaxBatchKeys      = 10000
	DefaultLocalStaleEntries = 10000
	DefaultLocalStaleBytes   = 64 << 20
	DefaultHealthInterval    = time.Second
	DefaultStatsInterval     = 5 * time.Second
	DefaultMaxDecodedSize    = codec.DefaultMaxDecodedSize
	DefaultOpTimeout         = guard.DefaultOpTimeout
	DefaultBatchTimeout      = guard.DefaultBatchTimeout
	DefaultBreakerFailures   = guard.DefaultConsecutiveFailures
	DefaultBreakerOpen       = guard.DefaultOpenTimeout
)

// MaxTTL is the longest TTL, staleness or freshness the layer accepts: a
// century. Past it the arithmetic of expiry times overflows (a MaxInt64
// TTL once read back as -2562047h).
const MaxTTL = 100 * 365 * 24 * time.Hour

// The namespaces whose TTL policies the configuration names.
const (
	NamespaceDefault    = "default"
	NamespaceMarketData = "market_data"
	NamespacePortfolio  = "portfolio"
	NamespaceRisk       = "risk"
	NamespaceSession    = "session"
)

// RedisConfig says how to reach Redis. When both URL and Host are empty the
// Cache runs on the embedded in-memory store instead.
type RedisConfig struct {
	// URL is REDIS_URL: redis://[user:password@]host:port[/db] or rediss://
	// for TLS. When set it wins over Host, Port, DB, Username, Password and
	// SSL.
	URL            string
	Host           string // REDIS_HOST
	Port           int    // REDIS_PORT; 0 means 6379
	DB             int    // REDIS_DB
	Username       string // REDIS_USERNAME, for ACL users
	Password       string // REDIS_PASSWORD; never printed
	SSL            bool   // REDIS_SSL
	MaxConnections int    // REDIS_MAX_CONNECTIONS; 0 means the environment's default
	// TLS beyond REDIS_SSL: a CA bundle to trust (REDIS_TLS_CA_FILE), a
	// client certificate and key for mutual TLS (REDIS_TLS_CERT_FILE,
	// REDIS_TLS_KEY_FILE), and the name to verify (REDIS_TLS_SERVER_NAME;
	// default the host). Any of them turns TLS on.
	TLSCAFile, TLSCertFile, TLSKeyFile, TLSServerName string
	// MaxFlushDelay lets rueidis wait up to this long after a write for more
	// commands to pipeline with it. Zero means DefaultMaxFlushDelay; a
	// negative value turns the delay off.
	MaxFlushDelay time.Duration

	// Topology. One client constructor serves all of them, as rueidis's
	// does; at most one of URL, ClusterAddrs and SentinelAddrs may be set,
	// and when one is, Host and Port are ignored.

	// ClusterAddrs (REDIS_CLUSTER_ADDRS, "host:port,host:port") are seed
	// nodes of a Redis Cluster; the client learns the rest from CLUSTER
	// SLOTS and follows MOVED and ASK redirects. A cluster has only
	// database 0, so DB must be 0.
	ClusterAddrs []string
	// SentinelAddrs (REDIS_SENTINEL_ADDRS) are Sentinel addresses, and
	// SentinelMaster (REDIS_SENTINEL_MASTER) the name of the master set
	// they monitor. The client writes only to the master the sentinels
	// name, and moves when they fail it over. Username and Password are
	// the data nodes' credentials; SentinelUsername and SentinelPassword
	// (REDIS_SENTINEL_USERNAME, REDIS_SENTINEL_PASSWORD) the sentinels'.
	SentinelAddrs                      []string
	SentinelMaster                     string
	SentinelUsername, SentinelPassword string
	// ReplicaAddrs (REDIS_REPLICA_ADDRS) are read replicas of a standalone
	// primary (Host:Port), such as a cloud provider's reader endpoint. They
	// must not be promotable; use Sentinel when they are.
	ReplicaAddrs []string
	// ReplicaReads (REDIS_READ_FROM_REPLICAS, "market_data,reference" or
	// "*") lists the namespaces whose plain reads (Get, GetMany, Exists,
	// TTL, and get-or-load's read) go to a replica on a Cluster, a Sentinel
	// group or a primary with ReplicaAddrs. See NamespaceConfig.ReadFromReplica
	// and docs/operations.md for the staleness this implies.
	ReplicaReads []string
}

// topology lists the environment variables of the topology settings that
// are set; more than one is a conflict.
func (r RedisConfig) topology() []string {
	var set []string
	if r.URL != "" {
		set = append(set, "REDIS_URL")
	}
	if len(r.ClusterAddrs) > 0 {
		set = append(set, "REDIS_CLUSTER_ADDRS")
	}
	if len(r.SentinelAddrs) > 0 {
		set = append(set, "REDIS_SENTINEL_ADDRS")
	}
	return set
}

// wantsNear reports whether any namespace has a near cache.
func (c Config) wantsNear() bool {
	for _, p := range c.Namespaces {
		if p.Near != nil {
			return true
		}
	}
	return false
}

// Enabled reports whether Redis is configured at all.
func (r RedisConfig) Enabled() bool {
	return r.URL != "" || r.Host != "" || len(r.ClusterAddrs) > 0 || len(r.SentinelAddrs) > 0
}

// Config holds every setting of the cache. The zero value is valid: it
// means the development environment's defaults on the in-memory store.
// ConfigFromEnv fills it from the environment variables of the layer
// tradecache replaces.
//
// Environment defaults (each can be overridden by its variable):
//
//	               development  testing  staging  production
//	metrics        on           off      on       on
//	slow-op log    on           off      on       on
//	connections    10           10       50       100
//
// TTLs, prefix, compression threshold, batch size and slow-op threshold
// default to the same values in every environment (the Default constants).
type Config struct {
	Environment Environment // CACHE_ENVIRONMENT; "" means development
	Redis       RedisConfig

	DefaultTTL    time.Duration // CACHE_DEFAULT_TTL; namespaces without a policy
	MarketDataTTL time.Duration // CACHE_MARKET_DATA_TTL
	PortfolioTTL  time.Duration // CACHE_PORTFOLIO_TTL
	RiskTTL       time.Duration // CACHE_RISK_TTL
	SessionTTL    time.Duration // CACHE_SESSION_TTL
	// Namespaces sets per-namespace policies in code: TTL, compression and
	// sealing. A namespace without an entry uses the settings above.
	Namespaces map[string]NamespaceConfig

	KeyPrefix         string            // CACHE_KEY_PREFIX; see Namespace for the grammar
	Compression       codec.Compression // CACHE_COMPRESSION: zstd (default), s2 or none
	CompressThreshold int               // CACHE_COMPRESS_THRESHOLD, bytes; negative turns compression off
	MaxDecodedSize    int               // CACHE_MAX_DECODED_SIZE, bytes a compressed value may expand to
	// EncryptionKeys (CACHE_ENCRYPTION_KEYS, "id:base64,id:base64") seal
	// values with AES-256-GCM. The first key seals new values; all of them
	// open old ones. With keys set, the session namespace is sealed unless
	// its NamespaceConfig says otherwise. Never printed.
	EncryptionKeys []codec.Key
	MaxBatchSize   int   // CACHE_MAX_BATCH_SIZE, keys per round trip
	MaxKeyLength   int   // CACHE_MAX_KEY_LENGTH, bytes of the caller's key
	MaxValueBytes  int   // CACHE_MAX_VALUE_BYTES, bytes of an encoded value; 0 means DefaultMaxValueBytes
	MaxBatchKeys   int   // CACHE_MAX_BATCH_KEYS, keys in one batch call; 0 means DefaultMaxBatchKeys
	MemoryMaxBytes int64 // CACHE_MEMORY_MAX_BYTES, the in-memory store's budget
	// LocalStaleEntries bounds how many last known values each Cache keeps
	// in process, to serve within MaxStale when the store is unreachable.
	// Zero means DefaultLocalStaleEntries.
	LocalStaleEntries int
	// LocalStaleBytes bounds the memory those values hold (their decoded
	// size, estimated); the least recently remembered go first, and each
	// is forgotten past its FreshUntil + MaxStale. Zero means
	// DefaultLocalStaleBytes.
	LocalStaleBytes int64
	// InvalidationQueue bounds how many invalidations (Delete,
	// InvalidateTag, ClearNamespace) a Cache keeps while the store cannot
	// be reached, to apply when it answers again; one past it fails with
	// ErrInvalidationQueueFull. Zero means DefaultInvalidationQueue.
	InvalidationQueue int
	EnableMetrics     *bool // CACHE_ENABLE_METRICS; nil means the environment's default
	// PublishStats (CACHE_PUBLISH_STATS) writes a snapshot of this Cache's
	// figures to the store every StatsInterval, under a key with a TTL,
	// for `tradecache stats` and `tradecache top` to merge across every
	// live instance (see FleetStats). Nil means on when metrics are on.
	PublishStats *bool
	// StatsInterval (CACHE_STATS_INTERVAL) is how often the snapshot is
	// written, 1 s to 1 h; 0 means DefaultStatsInterval. A snapshot lives
	// three intervals, so an instance that stops disappears.
	StatsInterval time.Duration
	// InstanceName (CACHE_INSTANCE_NAME) names this process in the
	// published figures: 1 to 64 of [A-Za-z0-9_.-]. "" means the host
	// name and the process id.
	InstanceName    string
	LogSlowOps      *bool         // CACHE_LOG_SLOW_OPS; nil means the environment's default
	SlowOpThreshold time.Duration // CACHE_SLOW_OP_THRESHOLD

	// Resilience (Redis only; see package store/guard).

	OpTimeout          time.Duration // CACHE_OP_TIMEOUT: bound of a single-key call; 0 means 100ms
	BatchTimeout       time.Duration // CACHE_BATCH_TIMEOUT: bound of a batch call; 0 means 1s
	BreakerFailures    int           // CACHE_BREAKER_FAILURES: consecutive failures that open the breaker; 0 means 5
	BreakerOpenTimeout time.Duration // CACHE_BREAKER_OPEN_TIMEOUT: how long it stays open before probing; 0 means 1s
	HealthInterval     time.Duration // CACHE_HEALTH_INTERVAL: background PING period; 0 means 1s
}

// NamespaceConfig is one namespace's policy. Zero fields mean the Config's
// settings.
type NamespaceConfig struct {
	TTL               time.Duration     // 0: the named policy or DefaultTTL
	Compression       codec.Compression // "": Config.Compression
	CompressThreshold int               // 0: Config.CompressThreshold; negative: off
	// Seal encrypts and authenticates the namespace's values, and refuses
	// values in it that are not sealed. Nil means sealed for the session
	// namespace when EncryptionKeys are set, and not sealed otherwise.
	Seal *bool

	// Get-or-load defaults; each call can override them (LoadOption).

	// MaxStale is how long past its freshness a value may still be served,
	// flagged stale, when the loader or the store fails: 2s for quotes, a
	// day for reference data. Zero never serves stale values.
	MaxStale time.Duration
	// NegativeTTL remembers a loader's ErrNotFound this long; zero does not.
	NegativeTTL time.Duration
	// TTLJitter spreads loaded values' TTLs by ±this fraction (0.1 = ±10%).
	TTLJitter float64
	// EarlyRefresh is XFetch's beta: hot keys reload in the background
	// before they expire. Zero is off; 1 is the usual weight.
	EarlyRefresh float64
	// Lock makes processes that miss one key call the loader once between
	// them, through a short Redis lock (see WithLock).
	Lock bool
	// SoftTimeout and HardTimeout bound how long a get-or-load caller
	// waits for a slow loader (WithSoftTimeout, WithHardTimeout). Zero is
	// off.
	SoftTimeout, HardTimeout time.Duration
	// Near turns on the in-process near cache for the namespace (see
	// GetNear). Nil means none.
	Near *NearConfig
	// Strict refuses a stored map whose keys name no field of the type it
	// is read into (codec.ErrType): a value another type wrote. Off by
	// default: a newer writer that adds a field would break older readers
	// in the middle of a deploy. Types that know what a real value holds
	// say so with a Validate() error method (codec.Validator), which is
	// always honoured.
	Strict bool
	// StreamMaxLen and StreamMaxAge bound the namespace's streams (see
	// Stream.Publish): about StreamMaxLen entries are kept per key, and
	// none older than StreamMaxAge. Both zero means DefaultStreamMaxLen.
	StreamMaxLen int64
	StreamMaxAge time.Duration
	// StreamReplicas makes Publish wait until that many replicas have each
	// update (WAIT), for at most StreamReplicaTimeout (0: 100 ms), and
	// fail with ErrNotReplicated when fewer do: an update acknowledged so
	// survives the loss of its master. Zero does not wait.
	StreamReplicas       int
	StreamReplicaTimeout time.Duration
	// Portable marks a namespace that services in other languages read
	// and write (the Python package, python/tradecache): Validate refuses
	// s2 compression for it, which only Go reads (docs/wire-format.md).
	Portable bool
	// ReadFromReplica sends the namespace's plain reads to a replica, as
	// RedisConfig.ReplicaReads does, for data that tolerates replication
	// lag (quotes, reference data) and is read far more than written.
	ReadFromReplica bool
}

// NearConfig bounds a namespace's near cache. Zero fields mean the
// defaults.
type NearConfig struct {
	MaxEntries int           // 0 means DefaultNearMaxEntries
	MaxBytes   int64         // approximate bytes the decoded values hold in memory; 0 means DefaultNearMaxBytes
	MaxAge     time.Duration // an entry's longest life; 0 means the namespace's TTL
}

// The near tier's bounds when NearConfig leaves them 0.
const (
	DefaultNearMaxEntries = 10000
	DefaultNearMaxBytes   = 64 << 20
)

// tier builds the near tier c describes.
func (c NearConfig) tier() *near.Tier {
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultNearMaxEntries
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultNearMaxBytes
	}
	return near.New(c.MaxEntries, c.MaxBytes, c.MaxAge)
}

// FieldError is one bad setting inside a ConfigError.
type FieldError struct {
	Field  string // Go field name, e.g. "Redis.Port"
	Env    string // environment variable, e.g. "REDIS_PORT"
	Value  string // the offending value, "[REDACTED]" for secrets
	Reason string
}

// String names the setting by its variable, or by its field when it has
// none (a namespace's policy set in code). A setting with neither a field
// nor a value (an unknown variable) is named alone: its value is not
// shown, since it may be a secret, and an empty "" would hide that it was
// set.
func (f FieldError) String() string {
	name := f.Env
	if name == "" {
		name = f.Field
	}
	if f.Field == "" && f.Value == "" {
		return fmt.Sprintf("%s: %s", name, f.Reason)
	}
	return fmt.Sprintf("%s=%q: %s", name, f.Value, f.Reason)
}

// ConfigError lists every bad setting found, not just the first, so one
// deploy fixes them all.
type ConfigError struct {
	Fields []FieldError
}

func (e *ConfigError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.String()
	}
	return "tradecache: invalid configuration: " + strings.Join(parts, "; ")
}

// Has reports whether the error names the environment variable env.
func (e *ConfigError) Has(env string) bool {
	for _, f := range e.Fields {
		if f.Env == env {
			return true
		}
	}
	return false
}

func (e *ConfigError) add(field, env, value, reason string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Env: env, Value: value, Reason: reason})
}

func (e *ConfigError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}
