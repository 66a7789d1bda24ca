package tradecache

import (
	"net/url"
	"reflect"
	"strconv"
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
	Field string // Go field path in Config, "Redis.Port", as the docs name it
	// at returns a pointer to the field in *c: the row's one way to it
	// (TestEveryConfigFieldIsASetting holds it to Field).
	at      func(c *Config) any
	Env     string // environment variable; "" for a code-only setting
	Default string // as docs/configuration.md shows it
	Secret  bool   // never printed
	// positive makes an explicit 0 from the environment an error rather
	// than "the default".
	positive bool
	// check returns why the field's (non-zero) value v in c is bad, or "".
	check func(c Config, v reflect.Value) string
	// def is the default for environment e, applied to a zero field; nil
	// leaves the zero (it means a default further down).
	def func(e Environment) any
	// format prints the value, where %v would not do (URLs, keys).
	format func(v reflect.Value) string
}

func always(v any) func(Environment) any { return func(Environment) any { return v } }

func nonNegative() func(Config, reflect.Value) string {
	return func(_ Config, v reflect.Value) string {
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
	{Field: "Environment", at: func(c *Config) any { return &c.Environment }, Env: "CACHE_ENVIRONMENT", Default: "`development`", def: always(Development), check: func(c Config, _ reflect.Value) string {
		switch c.Environment {
		case "", Development, Testing, Staging, Production:
			return ""
		}
		return "unknown environment (want development, testing, staging or production)"
	}},
	{Field: "Redis.URL", at: func(c *Config) any { return &c.Redis.URL }, Env: "REDIS_URL", Default: "unset", Secret: false, format: func(v reflect.Value) string { return strconv.Quote(redactURL(v.String())) },
		check: func(c Config, _ reflect.Value) string {
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
	{Field: "Redis.Host", at: func(c *Config) any { return &c.Redis.Host }, Env: "REDIS_HOST", Default: "unset"},
	{Field: "Redis.Port", at: func(c *Config) any { return &c.Redis.Port }, Env: "REDIS_PORT", Default: "6379", positive: true, def: always(DefaultRedisPort), check: func(c Config, _ reflect.Value) string {
		if c.Redis.Port < 0 || c.Redis.Port > 65535 {
			return "port out of range 1-65535"
		}
		return ""
	}},
	{Field: "Redis.DB", at: func(c *Config) any { return &c.Redis.DB }, Env: "REDIS_DB", Default: "0", check: nonNegative()},
	{Field: "Redis.Username", at: func(c *Config) any { return &c.Redis.Username }, Env: "REDIS_USERNAME", Default: "unset"},
	{Field: "Redis.Password", at: func(c *Config) any { return &c.Redis.Password }, Env: "REDIS_PASSWORD", Default: "unset", Secret: true},
	{Field: "Redis.SSL", at: func(c *Config) any { return &c.Redis.SSL }, Env: "REDIS_SSL", Default: "false"},
	{Field: "Redis.TLSCAFile", at: func(c *Config) any { return &c.Redis.TLSCAFile }, Env: "REDIS_TLS_CA_FILE", Default: "unset"},
	{Field: "Redis.TLSCertFile", at: func(c *Config) any { return &c.Redis.TLSCertFile }, Env: "REDIS_TLS_CERT_FILE", Default: "unset"},
	{Field: "Redis.TLSKeyFile", at: func(c *Config) any { return &c.Redis.TLSKeyFile }, Env: "REDIS_TLS_KEY_FILE", Default: "unset"},
	{Field: "Redis.TLSServerName", at: func(c *Config) any { return &c.Redis.TLSServerName }, Env: "REDIS_TLS_SERVER_NAME", Default: "the host"},
	{Field: "Redis.MaxConnections", at: func(c *Config) any { return &c.Redis.MaxConnections }, Env: "REDIS_MAX_CONNECTIONS", Default: "by environment", check: nonNegative(),
		def: func(e Environment) any { return maxConnections[e] }},
	{Field: "Redis.MaxFlushDelay", at: func(c *Config) any { return &c.Redis.MaxFlushDelay }, Default: "20 µs", def: always(DefaultMaxFlushDelay)},
	{Field: "Redis.ClusterAddrs", at: func(c *Config) any { return &c.Redis.ClusterAddrs }, Env: "REDIS_CLUSTER_ADDRS", Default: "unset", check: addrs()},
	{Field: "Redis.SentinelAddrs", at: func(c *Config) any { return &c.Redis.SentinelAddrs }, Env: "REDIS_SENTINEL_ADDRS", Default: "unset", check: addrs()},
	{Field: "Redis.SentinelMaster", at: func(c *Config) any { return &c.Redis.SentinelMaster }, Env: "REDIS_SENTINEL_MASTER", Default: "unset"},
	{Field: "Redis.SentinelUsername", at: func(c *Config) any { return &c.Redis.SentinelUsername }, Env: "REDIS_SENTINEL_USERNAME", Default: "unset"},
	{Field: "Redis.SentinelPassword", at: func(c *Config) any { return &c.Redis.SentinelPassword }, Env: "REDIS_SENTINEL_PASSWORD", Default: "unset", Secret: true},
	{Field: "Redis.ReplicaAddrs", at: func(c *Config) any { return &c.Redis.ReplicaAddrs }, Env: "REDIS_REPLICA_ADDRS", Default: "unset", check: addrs()},
	{Field: "Redis.ReplicaReads", at: func(c *Config) any { return &c.Redis.ReplicaReads }, Env: "REDIS_READ_FROM_REPLICAS", Default: "unset", check: func(c Config, _ reflect.Value) string {
		for _, ns := range c.Redis.ReplicaReads {
			if ns != "*" && checkName(ns) != "" {
				return "not a namespace name or *: " + ns + " " + checkName(ns)
			}
		}
		return ""
	}},
	{Field: "DefaultTTL", at: func(c *Config) any { return &c.DefaultTTL }, Env: "CACHE_DEFAULT_TTL", Default: "3600 s", def: always(DefaultTTL), check: nonNegative()},
	{Field: "MarketDataTTL", at: func(c *Config) any { return &c.MarketDataTTL }, Env: "CACHE_MARKET_DATA_TTL", Default: "60 s", def: always(DefaultMarketDataTTL), check: nonNegative()},
	{Field: "PortfolioTTL", at: func(c *Config) any { return &c.PortfolioTTL }, Env: "CACHE_PORTFOLIO_TTL", Default: "300 s", def: always(DefaultPortfolioTTL), check: nonNegative()},
	{Field: "RiskTTL", at: func(c *Config) any { return &c.RiskTTL }, Env: "CACHE_RISK_TTL", Default: "180 s", def: always(DefaultRiskTTL), check: nonNegative()},
	{Field: "SessionTTL", at: func(c *Config) any { return &c.SessionTTL }, Env: "CACHE_SESSION_TTL", Default: "1800 s", def: always(DefaultSessionTTL), check: nonNegative()},
	{Field: "KeyPrefix", at: func(c *Config) any { return &c.KeyPrefix }, Env: "CACHE_KEY_PREFIX", Default: "`trading`", def: always(DefaultKeyPrefix), check: func(c Config, _ reflect.Value) string { return checkName(c.KeyPrefix) }},
	{Field: "Compression", at: func(c *Config) any { return &c.Compression }, Env: "CACHE_COMPRESSION", Default: "`zstd`", check: func(c Config, _ reflect.Value) string {
		switch c.Compression {
		case "", codec.CompressionZstd, codec.CompressionS2, codec.CompressionNone:
			return ""
		}
		return "unknown compression (want zstd, s2 or none)"
	}},
	{Field: "CompressThreshold", at: func(c *Config) any { return &c.CompressThreshold }, Env: "CACHE_COMPRESS_THRESHOLD", Default: "1024", def: always(DefaultCompressThreshold)},
	{Field: "MaxDecodedSize", at: func(c *Config) any { return &c.MaxDecodedSize }, Env: "CACHE_MAX_DECODED_SIZE", Default: "16777216", def: always(DefaultMaxDecodedSize), check: nonNegative()},
	{Field: "EncryptionKeys", at: func(c *Config) any { return &c.EncryptionKeys }, Env: "CACHE_ENCRYPTION_KEYS", Default: "unset", Secret: true,
		format: func(v reflect.Value) string { return keyIDs(v.Interface().([]codec.Key)) },
		check: func(c Config, _ reflect.Value) string {
			if _, err := codec.NewKeyring(c.EncryptionKeys...); err != nil {
				return err.Error()
			}
			return ""
		}},
	{Field: "MaxBatchSize", at: func(c *Config) any { return &c.MaxBatchSize }, Env: "CACHE_MAX_BATCH_SIZE", Default: "100", positive: true, def: always(DefaultMaxBatchSize), check: func(c Config, _ reflect.Value) string {
		if c.MaxBatchSize < 0 {
			return "must be greater than 0"
		}
		return ""
	}},
	{Field: "MaxKeyLength", at: func(c *Config) any { return &c.MaxKeyLength }, Env: "CACHE_MAX_KEY_LENGTH", Default: "512", positive: true, def: always(DefaultMaxKeyLength), check: func(c Config, _ reflect.Value) string {
		if c.MaxKeyLength < 0 {
			return "must be greater than 0"
		}
		return ""
	}},
	{Field: "MaxValueBytes", at: func(c *Config) any { return &c.MaxValueBytes }, Env: "CACHE_MAX_VALUE_BYTES", Default: "16777216", def: always(DefaultMaxValueBytes), check: nonNegative()},
	{Field: "MaxBatchKeys", at: func(c *Config) any { return &c.MaxBatchKeys }, Env: "CACHE_MAX_BATCH_KEYS", Default: "10000", def: always(DefaultMaxBatchKeys), check: nonNegative()},
	{Field: "MemoryMaxBytes", at: func(c *Config) any { return &c.MemoryMaxBytes }, Env: "CACHE_MEMORY_MAX_BYTES", Default: "268435456", def: always(int64(DefaultMemoryMaxBytes)), check: nonNegative()},
	{Field: "LocalStaleEntries", at: func(c *Config) any { return &c.LocalStaleEntries }, Default: "10000", def: always(DefaultLocalStaleEntries), check: nonNegative()},
	{Field: "LocalStaleBytes", at: func(c *Config) any { return &c.LocalStaleBytes }, Default: "67108864", def: always(int64(DefaultLocalStaleBytes)), check: nonNegative()},
	{Field: "InvalidationQueue", at: func(c *Config) any { return &c.InvalidationQueue }, Default: "10000", def: always(DefaultInvalidationQueue), check: nonNegative()},
	{Field: "EnableMetrics", at: func(c *Config) any { return &c.EnableMetrics }, Env: "CACHE_ENABLE_METRICS", Default: "by environment", def: func(e Environment) any { return ptr(e != Testing) }},
	{Field: "PublishStats", at: func(c *Config) any { return &c.PublishStats }, Env: "CACHE_PUBLISH_STATS", Default: "as metrics", def: nil},
	{Field: "StatsInterval", at: func(c *Config) any { return &c.StatsInterval }, Env: "CACHE_STATS_INTERVAL", Default: "5 s", def: always(DefaultStatsInterval), check: func(c Config, _ reflect.Value) string {
		if c.StatsInterval != 0 && (c.StatsInterval < minStatsInterval || c.StatsInterval > maxStatsInterval) {
			return "must be between 1 s and 1 h"
		}
		return ""
	}},
	{Field: "InstanceName", at: func(c *Config) any { return &c.InstanceName }, Env: "CACHE_INSTANCE_NAME", Default: "host-pid", check: func(c Config, _ reflect.Value) string {
		if c.InstanceName == "" {
			return ""
		}
		return checkName(c.InstanceName)
	}},
	{Field: "LogSlowOps", at: func(c *Config) any { return &c.LogSlowOps }, Env: "CACHE_LOG_SLOW_OPS", Default: "by environment", def: func(e Environment) any { return ptr(e != Testing) }},
	{Field: "SlowOpThreshold", at: func(c *Config) any { return &c.SlowOpThreshold }, Env: "CACHE_SLOW_OP_THRESHOLD", Default: "0.1 s", def: always(DefaultSlowOpThreshold), check: nonNegative()},
	{Field: "OpTimeout", at: func(c *Config) any { return &c.OpTimeout }, Env: "CACHE_OP_TIMEOUT", Default: "0.1 s", def: always(DefaultOpTimeout), check: nonNegative()},
	{Field: "BatchTimeout", at: func(c *Config) any { return &c.BatchTimeout }, Env: "CACHE_BATCH_TIMEOUT", Default: "1 s", def: always(DefaultBatchTimeout), check: nonNegative()},
	{Field: "BreakerFailures", at: func(c *Config) any { return &c.BreakerFailures }, Env: "CACHE_BREAKER_FAILURES", Default: "5", def: always(DefaultBreakerFailures), check: nonNegative()},
	{Field: "BreakerOpenTimeout", at: func(c *Config) any { return &c.BreakerOpenTimeout }, Env: "CACHE_BREAKER_OPEN_TIMEOUT", Default: "1 s", def: always(DefaultBreakerOpen), check: nonNegative()},
	{Field: "HealthInterval", at: func(c *Config) any { return &c.HealthInterval }, Env: "CACHE_HEALTH_INTERVAL", Default: "1 s", def: always(DefaultHealthInterval), check: nonNegative()},
}

// addrs checks a list of host:port addresses.
func addrs() func(Config, reflect.Value) string {
	return func(_ Config, v reflect.Value) string {
		for _, a := range v.Interface().([]string) {
			if reason := checkAddr(a); reason != "" {
				return a + ": " + reason
			}
		}
		return ""
	}
}

// field returns the row's field of *c, settable.
func (s setting) field(c *Config) reflect.Value { return reflect.ValueOf(s.at(c)).Elem() }

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
		if f := st.field(&c); st.def != nil && f.IsZero() {
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
