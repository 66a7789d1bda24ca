package tradecache

import (
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/tradecache/tradecache/codec"
)

// maxConnections is REDIS_MAX_CONNECTIONS's default per environment.
var maxConnections = map[Environment]int{Development: 10, Testing: 10, Staging: 50, Production: 100}

// setting is one row of the configuration table. Every list of the
// settings is made from these rows: ConfigFromEnv parses each variable by
// its field's type (settings_env.go), Validate runs each row's check
// (settings_validate.go), withDefaults applies each row's default (here),
// String and LogValue print each row, a Secret one redacted
// (settings_print.go), and a test holds docs/configuration.md's tables
// against them.
// Checks that relate two settings (one topology, a certificate and its
// key) are in Validate itself.
type setting struct {
	Field   string // Go field path in Config, "Redis.Port"
	Env     string // environment variable; "" for a code-only setting
	Default string // as docs/configuration.md shows it
	Secret  bool   // never printed
	// positive makes an explicit 0 from the environment an error rather
	// than "the default".
	positive bool
	// check returns why the field's (non-zero) value is bad, or "".
	check func(c Config) string
	// def is the default for environment e, applied to a zero field; nil
	// leaves the zero (it means a default further down).
	def func(e Environment) any
	// format prints the value, where %v would not do (URLs, keys).
	format func(v reflect.Value) string
}

func always(v any) func(Environment) any { return func(Environment) any { return v } }

func nonNegative(field string) func(Config) string {
	return func(c Config) string {
		v := fieldOf(&c, field)
		switch {
		case v.Int() < 0:
			return "must not be negative"
		case v.Type() == durationType && v.Int() > int64(MaxTTL):
			return "longer than MaxTTL (a century)"
		}
		return ""
	}
}

var settings = []setting{
	{Field: "Environment", Env: "CACHE_ENVIRONMENT", Default: "`development`", def: always(Development), check: func(c Config) string {
		switch c.Environment {
		case "", Development, Testing, Staging, Production:
			return ""
		}
		return "unknown environment (want development, testing, staging or production)"
	}},
	{Field: "Redis.URL", Env: "REDIS_URL", Default: "unset", Secret: false, format: func(v reflect.Value) string { return strconv.Quote(redactURL(v.String())) },
		check: func(c Config) string {
			u, err := url.Parse(c.Redis.URL)
			switch {
			case err != nil && checkAddr(c.Redis.URL) == "", err == nil && u.Opaque != "":
				return "no scheme: write redis://" + redactURL(c.Redis.URL) + " (rediss:// for TLS)"
			case err != nil:
				return "not a URL"
			case u.Scheme != "redis" && u.Scheme != "rediss":
				return "scheme must be redis:// or rediss://"
			case u.Host == "":
				return "no host"
			case u.Port() != "" && checkAddr(u.Host) != "":
				return "bad port: " + checkAddr(u.Host)
			case u.Query().Has("password"):
				return "a password in the query is not read by the client: put it in the user part (redis://user:password@host) or in REDIS_PASSWORD"
			}
			return ""
		}},
	{Field: "Redis.Host", Env: "REDIS_HOST", Default: "unset"},
	{Field: "Redis.Port", Env: "REDIS_PORT", Default: "6379", positive: true, def: always(DefaultRedisPort), check: func(c Config) string {
		if c.Redis.Port < 0 || c.Redis.Port > 65535 {
			return "port out of range 1-65535"
		}
		return ""
	}},
	{Field: "Redis.DB", Env: "REDIS_DB", Default: "0", check: nonNegative("Redis.DB")},
	{Field: "Redis.Username", Env: "REDIS_USERNAME", Default: "unset"},
	{Field: "Redis.Password", Env: "REDIS_PASSWORD", Default: "unset", Secret: true},
	{Field: "Redis.SSL", Env: "REDIS_SSL", Default: "false"},
	{Field: "Redis.TLSCAFile", Env: "REDIS_TLS_CA_FILE", Default: "unset"},
	{Field: "Redis.TLSCertFile", Env: "REDIS_TLS_CERT_FILE", Default: "unset"},
	{Field: "Redis.TLSKeyFile", Env: "REDIS_TLS_KEY_FILE", Default: "unset"},
	{Field: "Redis.TLSServerName", Env: "REDIS_TLS_SERVER_NAME", Default: "the host"},
	{Field: "Redis.MaxConnections", Env: "REDIS_MAX_CONNECTIONS", Default: "by environment", check: nonNegative("Redis.MaxConnections"),
		def: func(e Environment) any { return maxConnections[e] }},
	{Field: "Redis.MaxFlushDelay", Default: "20 µs", def: always(DefaultMaxFlushDelay)},
	{Field: "Redis.ClusterAddrs", Env: "REDIS_CLUSTER_ADDRS", Default: "unset", check: addrs("Redis.ClusterAddrs")},
	{Field: "Redis.SentinelAddrs", Env: "REDIS_SENTINEL_ADDRS", Default: "unset", check: addrs("Redis.SentinelAddrs")},
	{Field: "Redis.SentinelMaster", Env: "REDIS_SENTINEL_MASTER", Default: "unset"},
	{Field: "Redis.SentinelUsername", Env: "REDIS_SENTINEL_USERNAME", Default: "unset"},
	{Field: "Redis.SentinelPassword", Env: "REDIS_SENTINEL_PASSWORD", Default: "unset", Secret: true},
	{Field: "Redis.ReplicaAddrs", Env: "REDIS_REPLICA_ADDRS", Default: "unset", check: addrs("Redis.ReplicaAddrs")},
	{Field: "Redis.ReplicaReads", Env: "REDIS_READ_FROM_REPLICAS", Default: "unset", check: func(c Config) string {
		for _, ns := range c.Redis.ReplicaReads {
			if ns != "*" && checkName(ns) != "" {
				return "not a namespace name or *: " + ns + " " + checkName(ns)
			}
		}
		return ""
	}},
	{Field: "DefaultTTL", Env: "CACHE_DEFAULT_TTL", Default: "3600 s", def: always(DefaultTTL), check: nonNegative("DefaultTTL")},
	{Field: "MarketDataTTL", Env: "CACHE_MARKET_DATA_TTL", Default: "60 s", def: always(DefaultMarketDataTTL), check: nonNegative("MarketDataTTL")},
	{Field: "PortfolioTTL", Env: "CACHE_PORTFOLIO_TTL", Default: "300 s", def: always(DefaultPortfolioTTL), check: nonNegative("PortfolioTTL")},
	{Field: "RiskTTL", Env: "CACHE_RISK_TTL", Default: "180 s", def: always(DefaultRiskTTL), check: nonNegative("RiskTTL")},
	{Field: "SessionTTL", Env: "CACHE_SESSION_TTL", Default: "1800 s", def: always(DefaultSessionTTL), check: nonNegative("SessionTTL")},
	{Field: "KeyPrefix", Env: "CACHE_KEY_PREFIX", Default: "`trading`", def: always(DefaultKeyPrefix), check: func(c Config) string { return checkName(c.KeyPrefix) }},
	{Field: "Compression", Env: "CACHE_COMPRESSION", Default: "`zstd`", check: func(c Config) string {
		switch c.Compression {
		case "", codec.CompressionZstd, codec.CompressionS2, codec.CompressionNone:
			return ""
		}
		return "unknown compression (want zstd, s2 or none)"
	}},
	{Field: "CompressThreshold", Env: "CACHE_COMPRESS_THRESHOLD", Default: "1024", def: always(DefaultCompressThreshold)},
	{Field: "MaxDecodedSize", Env: "CACHE_MAX_DECODED_SIZE", Default: "16777216", def: always(DefaultMaxDecodedSize), check: nonNegative("MaxDecodedSize")},
	{Field: "EncryptionKeys", Env: "CACHE_ENCRYPTION_KEYS", Default: "unset", Secret: true,
		format: func(v reflect.Value) string { return keyIDs(v.Interface().([]codec.Key)) },
		check: func(c Config) string {
			if _, err := codec.NewKeyring(c.EncryptionKeys...); err != nil {
				return err.Error()
			}
			return ""
		}},
	{Field: "MaxBatchSize", Env: "CACHE_MAX_BATCH_SIZE", Default: "100", positive: true, def: always(DefaultMaxBatchSize), check: func(c Config) string {
		if c.MaxBatchSize < 0 {
			return "must be greater than 0"
		}
		return ""
	}},
	{Field: "MaxKeyLength", Env: "CACHE_MAX_KEY_LENGTH", Default: "512", positive: true, def: always(DefaultMaxKeyLength), check: func(c Config) string {
		if c.MaxKeyLength < 0 {
			return "must be greater than 0"
		}
		return ""
	}},
	{Field: "MaxValueBytes", Env: "CACHE_MAX_VALUE_BYTES", Default: "16777216", def: always(DefaultMaxValueBytes), check: nonNegative("MaxValueBytes")},
	{Field: "MaxBatchKeys", Env: "CACHE_MAX_BATCH_KEYS", Default: "10000", def: always(DefaultMaxBatchKeys), check: nonNegative("MaxBatchKeys")},
	{Field: "MemoryMaxBytes", Env: "CACHE_MEMORY_MAX_BYTES", Default: "268435456", def: always(int64(DefaultMemoryMaxBytes)), check: nonNegative("MemoryMaxBytes")},
	{Field: "LocalStaleEntries", Default: "10000", def: always(DefaultLocalStaleEntries), check: nonNegative("LocalStaleEntries")},
	{Field: "LocalStaleBytes", Default: "67108864", def: always(int64(DefaultLocalStaleBytes)), check: nonNegative("LocalStaleBytes")},
	{Field: "InvalidationQueue", Default: "10000", def: always(DefaultInvalidationQueue), check: nonNegative("InvalidationQueue")},
	{Field: "EnableMetrics", Env: "CACHE_ENABLE_METRICS", Default: "by environment", def: func(e Environment) any { return ptr(e != Testing) }},
	{Field: "PublishStats", Env: "CACHE_PUBLISH_STATS", Default: "as metrics", def: nil},
	{Field: "StatsInterval", Env: "CACHE_STATS_INTERVAL", Default: "5 s", def: always(DefaultStatsInterval), check: func(c Config) string {
		if c.StatsInterval != 0 && (c.StatsInterval < minStatsInterval || c.StatsInterval > maxStatsInterval) {
			return "must be between 1 s and 1 h"
		}
		return ""
	}},
	{Field: "InstanceName", Env: "CACHE_INSTANCE_NAME", Default: "host-pid", check: func(c Config) string {
		if c.InstanceName == "" {
			return ""
		}
		return checkName(c.InstanceName)
	}},
	{Field: "LogSlowOps", Env: "CACHE_LOG_SLOW_OPS", Default: "by environment", def: func(e Environment) any { return ptr(e != Testing) }},
	{Field: "SlowOpThreshold", Env: "CACHE_SLOW_OP_THRESHOLD", Default: "0.1 s", def: always(DefaultSlowOpThreshold), check: nonNegative("SlowOpThreshold")},
	{Field: "OpTimeout", Env: "CACHE_OP_TIMEOUT", Default: "0.1 s", def: always(DefaultOpTimeout), check: nonNegative("OpTimeout")},
	{Field: "BatchTimeout", Env: "CACHE_BATCH_TIMEOUT", Default: "1 s", def: always(DefaultBatchTimeout), check: nonNegative("BatchTimeout")},
	{Field: "BreakerFailures", Env: "CACHE_BREAKER_FAILURES", Default: "5", def: always(DefaultBreakerFailures), check: nonNegative("BreakerFailures")},
	{Field: "BreakerOpenTimeout", Env: "CACHE_BREAKER_OPEN_TIMEOUT", Default: "1 s", def: always(DefaultBreakerOpen), check: nonNegative("BreakerOpenTimeout")},
	{Field: "HealthInterval", Env: "CACHE_HEALTH_INTERVAL", Default: "1 s", def: always(DefaultHealthInterval), check: nonNegative("HealthInterval")},
}

// addrs checks a list of host:port addresses.
func addrs(field string) func(Config) string {
	return func(c Config) string {
		for _, a := range fieldOf(&c, field).Interface().([]string) {
			if reason := checkAddr(a); reason != "" {
				return a + ": " + reason
			}
		}
		return ""
	}
}

// fieldOf returns the field of *c at path ("Redis.Port"), settable.
func fieldOf(c *Config, path string) reflect.Value {
	v := reflect.ValueOf(c).Elem()
	for _, name := range strings.Split(path, ".") {
		v = v.FieldByName(name)
	}
	return v
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	keysType     = reflect.TypeFor[[]codec.Key]()
	boolPtrType  = reflect.TypeFor[*bool]()
)

// withDefaults returns the configuration with every zero field that has a
// default (a row of the settings table with one) set to it.
func (c Config) withDefaults() Config {
	if c.Environment == "" {
		c.Environment = Development
	}
	for _, st := range settings {
		if f := fieldOf(&c, st.Field); st.def != nil && f.IsZero() {
			f.Set(reflect.ValueOf(st.def(c.Environment)).Convert(f.Type()))
		}
	}
	if c.PublishStats == nil { // its default is another setting's value
		c.PublishStats = ptr(*c.EnableMetrics)
	}
	if c.InstanceName == "" {
		c.InstanceName = defaultInstanceName()
	}
	return c
}

func ptr[T any](v T) *T { return &v }

// ttlFor returns the TTL policy of namespace ns: its NamespaceConfig
// first, then the named policies (market_data, portfolio, risk, session),
// then DefaultTTL.
func (c Config) ttlFor(ns string) time.Duration {
	c = c.withDefaults()
	if p, ok := c.Namespaces[ns]; ok && p.TTL > 0 {
		return p.TTL
	}
	switch ns {
	case NamespaceMarketData:
		return c.MarketDataTTL
	case NamespacePortfolio:
		return c.PortfolioTTL
	case NamespaceRisk:
		return c.RiskTTL
	case NamespaceSession:
		return c.SessionTTL
	}
	return c.DefaultTTL
}
