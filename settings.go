package tradecache

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tradecache/tradecache/codec"
)

// maxConnections is REDIS_MAX_CONNECTIONS's default per environment.
var maxConnections = map[Environment]int{Development: 10, Testing: 10, Staging: 50, Production: 100}

// setting is one row of the configuration table. Every list of the
// settings is made from these rows: ConfigFromEnv parses each variable by
// its field's type, Validate runs each row's check, withDefaults applies
// each row's default, String and LogValue print each row (a Secret one
// redacted), and a test holds docs/configuration.md's tables against them.
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

// parse sets dst, a field of the type the row's field has, from the
// environment's text, or returns why it cannot.
func parse(dst reflect.Value, text string) string {
	switch t := dst.Type(); {
	case t == durationType:
		d, err := parseDuration(text)
		if err != nil {
			return "not a duration (seconds such as 3600 or 0.1, or a Go duration such as 250ms)"
		}
		dst.SetInt(int64(d))
	case t == keysType:
		keys, err := codec.ParseKeys(text)
		dst.Set(reflect.ValueOf(keys))
		if err != nil {
			return err.Error()
		}
	case t == boolPtrType:
		b, err := parseBool(text)
		if err != nil {
			return "not a boolean (true/false, 1/0, yes/no, on/off)"
		}
		dst.Set(reflect.ValueOf(&b))
	case t.Kind() == reflect.Bool:
		b, err := parseBool(text)
		if err != nil {
			return "not a boolean (true/false, 1/0, yes/no, on/off)"
		}
		dst.SetBool(b)
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(text, 10, t.Bits())
		if err != nil {
			return "not an integer"
		}
		dst.SetInt(n)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		var parts []string
		for _, part := range strings.Split(text, ",") {
			if part = strings.TrimSpace(part); part != "" {
				parts = append(parts, part)
			}
		}
		dst.Set(reflect.ValueOf(parts))
	case t.Kind() == reflect.String:
		if t != reflect.TypeFor[string]() { // Environment, Compression: names, case-insensitive
			text = strings.ToLower(text)
		}
		dst.SetString(text)
	default:
		panic("tradecache: no parser for " + t.String())
	}
	return ""
}

// show prints a row's value of c, a secret redacted.
func (s setting) show(c *Config) string {
	v := fieldOf(c, s.Field)
	switch {
	case s.format != nil:
		return s.format(v)
	case s.Secret:
		if v.IsZero() {
			return `""`
		}
		return strconv.Quote(redacted)
	case v.Type() == boolPtrType:
		return fmtBool(v.Interface().(*bool))
	case v.Kind() == reflect.String:
		return strconv.Quote(v.String())
	case v.Kind() == reflect.Slice:
		return fmt.Sprintf("%q", v.Interface())
	}
	return fmt.Sprint(v.Interface())
}

// String describes the configuration, every setting of the table, with
// secrets redacted. It also serves %v and %+v.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("Config{")
	for i, s := range settings {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.Field)
		b.WriteByte(':')
		b.WriteString(s.show(&c))
	}
	fmt.Fprintf(&b, " Namespaces:%d}", len(c.Namespaces))
	return b.String()
}

// GoString serves %#v, with secrets redacted.
func (c Config) GoString() string { return "tradecache." + c.String() }

// String describes the Redis settings with secrets redacted.
func (r RedisConfig) String() string {
	c := Config{Redis: r}
	var b strings.Builder
	b.WriteByte('{')
	for _, s := range settings {
		name, ok := strings.CutPrefix(s.Field, "Redis.")
		if !ok {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(' ')
		}
		b.WriteString(name + ":" + s.show(&c))
	}
	b.WriteByte('}')
	return b.String()
}

// GoString serves %#v, with secrets redacted.
func (r RedisConfig) GoString() string { return "tradecache.RedisConfig" + r.String() }

// LogValue makes slog print every setting, in snake_case groups, with
// secrets redacted.
func (c Config) LogValue() slog.Value {
	var top, redis []slog.Attr
	for _, s := range settings {
		name, inRedis := strings.CutPrefix(s.Field, "Redis.")
		a := slog.String(snake(name), strings.Trim(s.show(&c), `"`))
		if inRedis {
			redis = append(redis, a)
		} else {
			top = append(top, a)
		}
	}
	top = append(top, slog.Attr{Key: "redis", Value: slog.GroupValue(redis...)})
	return slog.GroupValue(top...)
}

// snake turns a Go field name into snake_case: MaxTTL → max_ttl.
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// value is a row's value of c as a FieldError shows it: durations in
// seconds, as the variables take them, and secrets redacted.
func (s setting) value(c *Config) string {
	v := fieldOf(c, s.Field)
	switch {
	case s.Secret:
		return redacted
	case s.Field == "Redis.URL":
		return redactURL(v.String())
	case v.Type() == durationType:
		return formatSeconds(time.Duration(v.Int()))
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		return strings.Join(v.Interface().([]string), ",")
	}
	return fmt.Sprint(v.Interface())
}

const redacted = "[REDACTED]"

func configFrom(lookup func(string) (string, bool)) (Config, error) {
	var cfg Config
	errs := &ConfigError{}
	for _, st := range settings {
		if st.Env == "" {
			continue
		}
		v, ok := lookup(st.Env)
		if v = strings.TrimSpace(v); !ok || v == "" {
			continue
		}
		shown := v
		if st.Secret {
			shown = redacted
		}
		if reason := parse(fieldOf(&cfg, st.Field), v); reason != "" {
			errs.add(st.Field, st.Env, shown, reason)
			continue
		}
		// An explicit zero from the environment (a batch size of 0, say)
		// is an error rather than "use the default".
		if n, err := strconv.ParseFloat(v, 64); st.positive && err == nil && n == 0 {
			errs.add(st.Field, st.Env, shown, "must be greater than 0")
		}
	}
	set := func(env string) bool { v, ok := lookup(env); return ok && strings.TrimSpace(v) != "" }
	if reason := addressRequired(cfg.withDefaults(), set); reason != "" && !errs.Has("REDIS_HOST") {
		errs.add("Redis.Host", "REDIS_HOST", "", reason)
	}
	// A value that failed to parse is already listed; validate the rest.
	if ve, ok := cfg.Validate().(*ConfigError); ok {
		for _, f := range ve.Fields {
			if f.Env == "" || !errs.Has(f.Env) {
				errs.Fields = append(errs.Fields, f)
			}
		}
	}
	return cfg, errs.orNil()
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "t", "true", "yes", "y", "on":
		return true, nil
	case "0", "f", "false", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", v)
}

func parseDuration(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > float64(math.MaxInt64)/float64(time.Second) {
			return 0, fmt.Errorf("out of range: %q", v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(v)
}

// Validate checks the configuration and returns a *ConfigError naming
// every bad field, or nil. Zero values are valid: they mean defaults.
func (c Config) Validate() error {
	errs := &ConfigError{}
	for _, st := range settings {
		if st.check == nil || fieldOf(&c, st.Field).IsZero() {
			continue
		}
		if reason := st.check(c); reason != "" {
			errs.add(st.Field, st.Env, st.value(&c), reason)
		}
	}
	// Checks that relate settings to each other.
	if set := c.Redis.topology(); len(set) > 1 {
		errs.add("Redis."+map[string]string{"REDIS_URL": "URL", "REDIS_CLUSTER_ADDRS": "ClusterAddrs", "REDIS_SENTINEL_ADDRS": "SentinelAddrs"}[set[1]], set[1], "", "conflicts with "+strings.Join(set[:1], ", ")+": set one topology")
	}
	switch {
	case len(c.Redis.SentinelAddrs) > 0 && c.Redis.SentinelMaster == "":
		errs.add("Redis.SentinelMaster", "REDIS_SENTINEL_MASTER", "", "REDIS_SENTINEL_ADDRS needs the master set's name")
	case len(c.Redis.SentinelAddrs) == 0 && c.Redis.SentinelMaster != "":
		errs.add("Redis.SentinelMaster", "REDIS_SENTINEL_MASTER", c.Redis.SentinelMaster, "set without REDIS_SENTINEL_ADDRS")
	}
	if len(c.Redis.ClusterAddrs) > 0 && c.Redis.DB != 0 {
		errs.add("Redis.DB", "REDIS_DB", strconv.Itoa(c.Redis.DB), "a Redis Cluster has only database 0")
	}
	if len(c.Redis.ReplicaAddrs) > 0 && (c.Redis.Host == "" || len(c.Redis.topology()) > 0) {
		errs.add("Redis.ReplicaAddrs", "REDIS_REPLICA_ADDRS", strings.Join(c.Redis.ReplicaAddrs, ","), "replicas of a standalone primary need REDIS_HOST, and no URL, cluster or sentinel setting")
	}
	if (c.Redis.TLSCertFile == "") != (c.Redis.TLSKeyFile == "") {
		errs.add("Redis.TLSCertFile", "REDIS_TLS_CERT_FILE", c.Redis.TLSCertFile, "a client certificate needs its key (REDIS_TLS_KEY_FILE) and the other way round")
	}
	names := make([]string, 0, len(c.Namespaces))
	for ns := range c.Namespaces {
		names = append(names, ns)
	}
	sort.Strings(names)
	for _, ns := range names {
		p := c.Namespaces[ns]
		field := "Namespaces[" + ns + "]"
		// Every check runs, so that one ConfigError names every bad
		// setting of every policy, as it does for the Config's own.
		if why := checkName(ns); why != "" {
			errs.add(field, "", ns, "namespace "+why)
		}
		if p.TTL < 0 || p.TTL > MaxTTL {
			errs.add(field+".TTL", "", p.TTL.String(), "must be between 0 and MaxTTL (a century)")
		}
		if p.Compression != "" && p.Compression != codec.CompressionZstd && p.Compression != codec.CompressionS2 && p.Compression != codec.CompressionNone {
			errs.add(field+".Compression", "", string(p.Compression), "unknown compression (want zstd, s2 or none)")
		}
		if p.Seal != nil && *p.Seal && len(c.EncryptionKeys) == 0 {
			errs.add(field+".Seal", "CACHE_ENCRYPTION_KEYS", "", "sealing needs encryption keys")
		}
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"MaxStale", p.MaxStale}, {"NegativeTTL", p.NegativeTTL}, {"StreamMaxAge", p.StreamMaxAge}} {
			if d.v < 0 || d.v > MaxTTL {
				errs.add(field+"."+d.name, "", d.v.String(), "must be between 0 and MaxTTL (a century)")
			}
		}
		if p.TTLJitter < 0 || p.TTLJitter >= 1 {
			errs.add(field+".TTLJitter", "", strconv.FormatFloat(p.TTLJitter, 'g', -1, 64), "must be in [0, 1)")
		}
		if p.EarlyRefresh < 0 {
			errs.add(field+".EarlyRefresh", "", strconv.FormatFloat(p.EarlyRefresh, 'g', -1, 64), "must not be negative")
		}
		if p.StreamMaxLen < 0 {
			errs.add(field+".StreamMaxLen", "", strconv.FormatInt(p.StreamMaxLen, 10), "must not be negative")
		}
		if p.StreamReplicas < 0 {
			errs.add(field+".StreamReplicas", "", strconv.Itoa(p.StreamReplicas), "must not be negative")
		}
		if p.StreamReplicaTimeout < 0 {
			errs.add(field+".StreamReplicaTimeout", "", p.StreamReplicaTimeout.String(), "must not be negative")
		}
		if p.Portable && (p.Compression == codec.CompressionS2 || p.Compression == "" && c.Compression == codec.CompressionS2) {
			errs.add(field+".Compression", "CACHE_COMPRESSION", "s2", "a portable namespace (read by other languages) cannot use s2, which is Go-only: use zstd or none")
		}
	}
	return errs.orNil()
}

// checkAddr validates a host:port and returns why it is bad, or "".
func checkAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "not host:port"
	}
	if host == "" {
		return "no host"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "port out of range 1-65535"
	}
	return ""
}

func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// redactURL is raw with its password hidden, however it parses: whatever
// stands before the last '@' (after "scheme://", if there is one) is user
// information, and all of it after the first ':' is replaced. url.Parse
// alone is not enough: without a scheme ("app:pw@host:6379") it reads
// "app" as the scheme and the password as opaque text, which Redacted
// leaves alone, and a '#' or '/' in an unencoded password ends the
// authority early. A part without ':' is hidden whole, since it may be a
// password given alone. Query parameters naming a password are hidden too.
func redactURL(raw string) string {
	s := raw
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		start := 0
		if i := strings.Index(s, "://"); i >= 0 && i < at {
			start = i + 3
		}
		user, hidden := s[start:at], "xxxxx"
		if c := strings.IndexByte(user, ':'); c >= 0 {
			hidden = user[:c] + ":xxxxx"
		}
		s = s[:start] + hidden + s[at:]
	}
	u, err := url.Parse(s)
	if err != nil {
		if s != raw || strings.Contains(strings.ToLower(s), "pass") {
			// Unparsable: it may still hold a password, so show only its length.
			return fmt.Sprintf("[unparsable URL, %d bytes]", len(raw))
		}
		return raw // no user information, no password parameter: "127.0.0.1:6379"
	}
	// A password can also stand in the query (?password=, which the client
	// ignores but a person may try): redact any parameter that names one.
	if q := u.Query(); len(q) > 0 {
		changed := false
		for k := range q {
			if strings.Contains(strings.ToLower(k), "pass") {
				q.Set(k, "xxxxx")
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return s
}

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

// keyIDs lists key ids only: secrets are never printed.
func keyIDs(keys []codec.Key) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return "[" + strings.Join(ids, " ") + "]"
}

func fmtBool(b *bool) string {
	if b == nil {
		return "default"
	}
	return strconv.FormatBool(*b)
}

// needsAddress lists the Redis variables that mean nothing without an
// address: set alone, they say Redis was meant, and the in-memory store
// would quietly stand in for it.
var needsAddress = []string{
	"REDIS_PORT", "REDIS_DB", "REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_SSL", "REDIS_MAX_CONNECTIONS",
	"REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE", "REDIS_TLS_SERVER_NAME",
	"REDIS_REPLICA_ADDRS", "REDIS_READ_FROM_REPLICAS",
}

// addressRequired is why cfg cannot run without a Redis address, or "":
// staging and production never fall back to the in-memory store, and in
// any environment a Redis setting without an address (REDIS_PASSWORD
// alone, say) means Redis was meant. set reports whether a variable is
// set, for ConfigFromEnv; nil when the Config was built in code.
func addressRequired(cfg Config, set func(string) bool) string {
	if cfg.Redis.Enabled() {
		return ""
	}
	switch cfg.Environment {
	case Staging, Production:
		return string(cfg.Environment) + " needs Redis: set REDIS_URL or REDIS_HOST (or REDIS_CLUSTER_ADDRS, or REDIS_SENTINEL_ADDRS with REDIS_SENTINEL_MASTER); the in-memory store is for development and tests"
	}
	if set != nil {
		for _, v := range needsAddress {
			if set(v) {
				return v + " is set but no Redis address is: set REDIS_URL or REDIS_HOST, or unset " + v + " to use the in-memory store"
			}
		}
	}
	return ""
}
