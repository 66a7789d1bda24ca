package tradecache

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := configFrom(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Redis.Enabled() {
		t.Fatal("an empty environment enabled Redis; it must mean the in-memory store")
	}
	d := cfg.withDefaults()
	for name, got := range map[string]any{
		"DefaultTTL": d.DefaultTTL, "MarketDataTTL": d.MarketDataTTL, "PortfolioTTL": d.PortfolioTTL,
		"RiskTTL": d.RiskTTL, "SessionTTL": d.SessionTTL, "KeyPrefix": d.KeyPrefix,
		"CompressThreshold": d.CompressThreshold, "MaxBatchSize": d.MaxBatchSize, "SlowOpThreshold": d.SlowOpThreshold,
		"Environment": d.Environment, "Port": d.Redis.Port,
	} {
		want := map[string]any{
			"DefaultTTL": 3600 * time.Second, "MarketDataTTL": 60 * time.Second, "PortfolioTTL": 300 * time.Second,
			"RiskTTL": 180 * time.Second, "SessionTTL": 1800 * time.Second, "KeyPrefix": "trading",
			"CompressThreshold": 1024, "MaxBatchSize": 100, "SlowOpThreshold": 100 * time.Millisecond,
			"Environment": Development, "Port": 6379,
		}[name]
		if got != want {
			t.Errorf("default %s = %v, want %v", name, got, want)
		}
	}
}

func TestConfigFromEnvReadsEveryVariable(t *testing.T) {
	cfg, err := configFrom(env(map[string]string{
		"REDIS_HOST": "redis.internal", "REDIS_PORT": "6380", "REDIS_DB": "3", "REDIS_PASSWORD": "pw",
		"REDIS_USERNAME": "app", "REDIS_SSL": "true", "REDIS_MAX_CONNECTIONS": "20",
		"CACHE_DEFAULT_TTL": "7200", "CACHE_MARKET_DATA_TTL": "0.5", "CACHE_PORTFOLIO_TTL": "10m",
		"CACHE_RISK_TTL": "90", "CACHE_SESSION_TTL": "3600", "CACHE_KEY_PREFIX": "desk-a",
		"CACHE_COMPRESS_THRESHOLD": "2048", "CACHE_MAX_BATCH_SIZE": "250", "CACHE_ENABLE_METRICS": "no",
		"CACHE_LOG_SLOW_OPS": "on", "CACHE_SLOW_OP_THRESHOLD": "0.05", "CACHE_ENVIRONMENT": "Production",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Environment: Production,
		Redis:       RedisConfig{Host: "redis.internal", Port: 6380, DB: 3, Username: "app", Password: "pw", SSL: true, MaxConnections: 20},
		DefaultTTL:  2 * time.Hour, MarketDataTTL: 500 * time.Millisecond, PortfolioTTL: 10 * time.Minute,
		RiskTTL: 90 * time.Second, SessionTTL: time.Hour, KeyPrefix: "desk-a", CompressThreshold: 2048,
		MaxBatchSize: 250, EnableMetrics: ptr(false), LogSlowOps: ptr(true), SlowOpThreshold: 50 * time.Millisecond,
	}
	if fmt.Sprintf("%#v", cfg) != fmt.Sprintf("%#v", want) || cfg.Redis.Password != "pw" {
		t.Fatalf("got  %v\nwant %v", cfg, want)
	}
}

func TestConfigErrorListsEveryBadVariable(t *testing.T) {
	_, err := configFrom(env(map[string]string{
		"REDIS_PORT":               "70000",
		"REDIS_DB":                 "abc",
		"REDIS_PASSWORD":           "hunter2-secret",
		"REDIS_URL":                "http://user:hunter2-secret@host",
		"CACHE_DEFAULT_TTL":        "-5",
		"CACHE_MARKET_DATA_TTL":    "soon",
		"CACHE_MAX_BATCH_SIZE":     "0",
		"CACHE_ENVIRONMENT":        "prod",
		"CACHE_ENABLE_METRICS":     "maybe",
		"CACHE_KEY_PREFIX":         "bad:prefix",
		"CACHE_COMPRESS_THRESHOLD": "1k",
	}))
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *ConfigError", err)
	}
	for _, v := range []string{"REDIS_PORT", "REDIS_DB", "REDIS_URL", "CACHE_DEFAULT_TTL", "CACHE_MARKET_DATA_TTL",
		"CACHE_MAX_BATCH_SIZE", "CACHE_ENVIRONMENT", "CACHE_ENABLE_METRICS", "CACHE_KEY_PREFIX", "CACHE_COMPRESS_THRESHOLD"} {
		if !ce.Has(v) {
			t.Errorf("ConfigError does not name %s: %v", v, err)
		}
		if !strings.Contains(err.Error(), v) {
			t.Errorf("message does not name %s: %v", v, err)
		}
	}
	if len(ce.Fields) != 10 {
		t.Errorf("got %d fields, want 10: %v", len(ce.Fields), err)
	}
	for _, want := range []string{`"70000"`, `"abc"`, `"-5"`, `"soon"`, `"prod"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks the bad value %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("the password leaked into the error: %v", err)
	}
}

func TestValidateZeroIsValidAndNegativesAreNot(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	err := Config{SessionTTL: -time.Second, MaxBatchSize: -1, Redis: RedisConfig{Port: -1}, Namespaces: map[string]NamespaceConfig{
		"x y": {}, "neg": {TTL: -1}, "lz": {Compression: "lz4"}, "sealed": {Seal: ptr(true)}},
		Compression: "brotli", MaxDecodedSize: -1}.Validate()
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Fields) != 9 {
		t.Fatalf("Validate = %v, want 9 fields", err)
	}
}

func TestConfigRedactsPassword(t *testing.T) {
	const secret = "s3cr3t-Pa55word-xyz"
	cfg := Config{Redis: RedisConfig{Host: "h", Password: secret, URL: "redis://app:" + secret + "@h:1/0"}}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg)
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
		fmt.Sprintf("%v", cfg.Redis), fmt.Sprintf("%+v", cfg.Redis), fmt.Sprintf("%#v", cfg.Redis), fmt.Sprint(&cfg), logs.String()} {
		if strings.Contains(s, secret) {
			t.Fatalf("password leaked: %s", s)
		}
	}
	if !strings.Contains(cfg.String(), redacted) {
		t.Fatalf("String() does not say the password is redacted: %s", cfg)
	}
}

func TestEncryptionKeysFromEnvAreNeverPrinted(t *testing.T) {
	const k1 = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=" // 32 bytes of 0x01
	cfg, err := configFrom(env(map[string]string{"CACHE_ENCRYPTION_KEYS": "2026-11:" + k1, "CACHE_COMPRESSION": "S2", "CACHE_MAX_DECODED_SIZE": "1048576"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.EncryptionKeys) != 1 || cfg.EncryptionKeys[0].ID != "2026-11" || cfg.Compression != "s2" || cfg.MaxDecodedSize != 1<<20 {
		t.Fatalf("parsed %v", cfg)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("cfg", "cfg", cfg)
	for _, s := range []string{cfg.String(), fmt.Sprintf("%+v %#v", cfg, cfg), logs.String()} {
		if strings.Contains(s, k1) || strings.Contains(s, "\\x01\\x01") || strings.Contains(s, "[1 1 1") {
			t.Fatalf("key material printed: %s", s)
		}
		if !strings.Contains(s, "2026-11") {
			t.Fatalf("key id missing from %s", s)
		}
	}
	_, err = configFrom(env(map[string]string{"CACHE_ENCRYPTION_KEYS": "short:AQID"}))
	var ce *ConfigError
	if !errors.As(err, &ce) || !ce.Has("CACHE_ENCRYPTION_KEYS") || strings.Contains(err.Error(), "AQID") {
		t.Fatalf("short key: %v", err)
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	test := Config{Environment: Testing}.withDefaults()
	prod := Config{Environment: Production}.withDefaults()
	if *test.EnableMetrics || *test.LogSlowOps || !*prod.EnableMetrics || !*prod.LogSlowOps {
		t.Fatal("testing must default metrics and slow-op logs off, production on")
	}
	if prod.Redis.MaxConnections != 100 || test.Redis.MaxConnections != 10 {
		t.Fatalf("max connections: production %d, testing %d", prod.Redis.MaxConnections, test.Redis.MaxConnections)
	}
	if off := (Config{Environment: Production, EnableMetrics: ptr(false)}).withDefaults(); *off.EnableMetrics {
		t.Fatal("an explicit setting lost to the environment default")
	}
}

func TestTTLFor(t *testing.T) {
	cfg := Config{MarketDataTTL: 5 * time.Second, Namespaces: map[string]NamespaceConfig{"refdata": {TTL: 24 * time.Hour}, "market_data": {Compression: "s2"}}}
	for ns, want := range map[string]time.Duration{
		NamespaceMarketData: 5 * time.Second, NamespacePortfolio: DefaultPortfolioTTL, NamespaceRisk: DefaultRiskTTL,
		NamespaceSession: DefaultSessionTTL, "refdata": 24 * time.Hour, "other": DefaultTTL,
	} {
		if got := cfg.ttlFor(ns); got != want {
			t.Errorf("ttlFor(%s) = %v, want %v", ns, got, want)
		}
	}
}

func TestClientOptionFromURL(t *testing.T) {
	opt, err := Config{Redis: RedisConfig{URL: "rediss://app:pw@cache.internal:6390/2", MaxConnections: 8}}.withDefaults().redisOptions().ClientOption()
	if err != nil {
		t.Fatal(err)
	}
	if opt.InitAddress[0] != "cache.internal:6390" || opt.Username != "app" || opt.Password != "pw" || opt.SelectDB != 2 || opt.TLSConfig == nil {
		t.Fatalf("clientOption = %+v", opt)
	}
	if opt.PipelineMultiplex != 1 || opt.BlockingPoolSize != 8 || opt.MaxFlushDelay != DefaultMaxFlushDelay {
		t.Fatalf("multiplex %d, pool %d, flush delay %v", opt.PipelineMultiplex, opt.BlockingPoolSize, opt.MaxFlushDelay)
	}
	opt, _ = Config{Redis: RedisConfig{Host: "h", SSL: true, MaxConnections: 1, MaxFlushDelay: -1}}.withDefaults().redisOptions().ClientOption()
	if opt.InitAddress[0] != "h:6379" || opt.TLSConfig == nil || opt.TLSConfig.ServerName != "h" || opt.PipelineMultiplex != 0 || opt.MaxFlushDelay != 0 {
		t.Fatalf("clientOption = %+v", opt)
	}
}

func TestTopologyFromEnv(t *testing.T) {
	cfg, err := configFrom(env(map[string]string{
		"REDIS_SENTINEL_ADDRS": "10.0.0.1:26379, 10.0.0.2:26379,10.0.0.3:26379", "REDIS_SENTINEL_MASTER": "cache",
		"REDIS_SENTINEL_USERNAME": "sentinel-user", "REDIS_SENTINEL_PASSWORD": "sentinel-secret",
		"REDIS_PASSWORD": "data-secret", "REDIS_READ_FROM_REPLICAS": "market_data, reference",
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Redis
	if !r.Enabled() || len(r.SentinelAddrs) != 3 || r.SentinelAddrs[1] != "10.0.0.2:26379" || r.SentinelMaster != "cache" ||
		r.SentinelUsername != "sentinel-user" || r.SentinelPassword != "sentinel-secret" || len(r.ReplicaReads) != 2 || r.ReplicaReads[1] != "reference" {
		t.Fatalf("Redis = %#v", r)
	}
	if s := fmt.Sprintf("%v %#v", cfg, cfg); strings.Contains(s, "sentinel-secret") || strings.Contains(s, "data-secret") {
		t.Fatalf("a password leaked: %s", s)
	}
	opt, err := cfg.withDefaults().redisOptions().ClientOption()
	if err != nil {
		t.Fatal(err)
	}
	if opt.Sentinel.MasterSet != "cache" || opt.Sentinel.Password != "sentinel-secret" || opt.Password != "data-secret" ||
		len(opt.InitAddress) != 3 || opt.SendToReplicas == nil || opt.Sentinel.TopologyRefreshInterval <= 0 {
		t.Fatalf("sentinel clientOption = %+v", opt)
	}

	cfg, err = configFrom(env(map[string]string{"REDIS_CLUSTER_ADDRS": "10.0.1.1:7000,10.0.1.2:7000"}))
	if err != nil {
		t.Fatal(err)
	}
	opt, err = cfg.withDefaults().redisOptions().ClientOption()
	if err != nil {
		t.Fatal(err)
	}
	if len(opt.InitAddress) != 2 || opt.Sentinel.MasterSet != "" || opt.ClusterOption.ShardsRefreshInterval != time.Second || opt.SendToReplicas != nil {
		t.Fatalf("cluster clientOption = %+v", opt)
	}

	cfg, err = configFrom(env(map[string]string{"REDIS_HOST": "primary", "REDIS_REPLICA_ADDRS": "reader:6379"}))
	if err != nil {
		t.Fatal(err)
	}
	opt, _ = cfg.withDefaults().redisOptions().ClientOption()
	if opt.InitAddress[0] != "primary:6379" || len(opt.Standalone.ReplicaAddress) != 1 || opt.SendToReplicas == nil {
		t.Fatalf("primary-with-replicas clientOption = %+v", opt)
	}
}

func TestTopologyErrors(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string // the variable the error must name
	}{
		{map[string]string{"REDIS_CLUSTER_ADDRS": "a:1", "REDIS_SENTINEL_ADDRS": "b:2", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINEL_ADDRS"},
		{map[string]string{"REDIS_URL": "redis://a:1", "REDIS_CLUSTER_ADDRS": "a:1"}, "REDIS_CLUSTER_ADDRS"},
		{map[string]string{"REDIS_SENTINEL_ADDRS": "b:2"}, "REDIS_SENTINEL_MASTER"},
		{map[string]string{"REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINEL_MASTER"},
		{map[string]string{"REDIS_CLUSTER_ADDRS": "a:1,no-port"}, "REDIS_CLUSTER_ADDRS"},
		{map[string]string{"REDIS_CLUSTER_ADDRS": "a:99999"}, "REDIS_CLUSTER_ADDRS"},
		{map[string]string{"REDIS_CLUSTER_ADDRS": "a:1", "REDIS_DB": "2"}, "REDIS_DB"},
		{map[string]string{"REDIS_REPLICA_ADDRS": "r:1"}, "REDIS_REPLICA_ADDRS"},
		{map[string]string{"REDIS_CLUSTER_ADDRS": "a:1", "REDIS_REPLICA_ADDRS": "r:1"}, "REDIS_REPLICA_ADDRS"},
		{map[string]string{"REDIS_HOST": "h", "REDIS_READ_FROM_REPLICAS": "market data"}, "REDIS_READ_FROM_REPLICAS"},
	} {
		_, err := configFrom(env(c.env))
		var ce *ConfigError
		if !errors.As(err, &ce) || !ce.Has(c.want) {
			t.Errorf("%v: error %v, want one naming %s", c.env, err, c.want)
		}
	}
}

// The URL forms rueidis parses: extra addresses make a cluster's seeds,
// and master_set makes them sentinels.
func TestTopologyURLForms(t *testing.T) {
	opt, err := Config{Redis: RedisConfig{URL: "redis://10.0.1.1:7000?addr=10.0.1.2:7000&addr=10.0.1.3:7000"}}.withDefaults().redisOptions().ClientOption()
	if err != nil || len(opt.InitAddress) != 3 || opt.ClusterOption.ShardsRefreshInterval != time.Second {
		t.Fatalf("cluster URL: %+v, %v", opt, err)
	}
	opt, err = Config{Redis: RedisConfig{URL: "redis://:pw@10.0.0.1:26379?addr=10.0.0.2:26379&master_set=cache"}}.withDefaults().redisOptions().ClientOption()
	if err != nil || len(opt.InitAddress) != 2 || opt.Sentinel.MasterSet != "cache" || opt.Sentinel.TopologyRefreshInterval <= 0 {
		t.Fatalf("sentinel URL: %+v, %v", opt, err)
	}
}

// A password in REDIS_URL's query is refused (the client would ignore it)
// and never printed.
func TestURLPasswordInTheQuery(t *testing.T) {
	const secret = "qs-secret-123"
	cfg := Config{Redis: RedisConfig{URL: "redis://h:1/0?password=" + secret}}
	var ce *ConfigError
	if err := cfg.Validate(); !errors.As(err, &ce) || !ce.Has("REDIS_URL") || strings.Contains(err.Error(), secret) {
		t.Fatalf("Validate = %v, want a REDIS_URL error without the secret", err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("cfg", "cfg", cfg)
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), fmt.Sprint(cfg.Redis), logs.String()} {
		if strings.Contains(s, secret) {
			t.Fatalf("the query password was printed: %s", s)
		}
	}
}

// TTLs past a century are refused, in code and from the environment.
func TestTTLsAreBounded(t *testing.T) {
	if err := (Config{DefaultTTL: math.MaxInt64}).Validate(); err == nil {
		t.Fatal("a MaxInt64 DefaultTTL was accepted")
	}
	if _, err := configFrom(env(map[string]string{"CACHE_SESSION_TTL": "9000000000"})); err == nil {
		t.Fatal("a TTL of 285 years from the environment was accepted")
	}
}

// A bad REDIS_URL says why, never printing its password.
func TestURLErrorsSayWhy(t *testing.T) {
	for url, want := range map[string]string{
		"127.0.0.1:6379":                       "no scheme: write redis://127.0.0.1:6379",
		"http://h:1":                           "scheme must be redis:// or rediss://",
		"redis://:s3cret@h:99999":              "bad port",
		"redis://:s3cret@h:port/0":             "not a URL",
		"redis:///0":                           "no host",
		"redis://u:s3cret@h:1?password=s3cret": "a password in the query",
	} {
		err := Config{Redis: RedisConfig{URL: url}}.Validate()
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: %v; want %q and no password", url, err, want)
		}
	}
}

// A FieldError names its setting: by variable, else by field (a
// namespace's policy in code has no variable), and an unknown variable
// alone, without an empty value that would hide that it was set.
func TestFieldErrorsNameTheirSetting(t *testing.T) {
	for _, tc := range []struct {
		fe   FieldError
		want string
	}{
		{FieldError{Field: "Namespaces[md].MaxStale", Value: "-1s", Reason: "negative"}, `Namespaces[md].MaxStale="-1s": negative`},
		{FieldError{Env: "REDIS_HSOT", Reason: "set, but unknown"}, `REDIS_HSOT: set, but unknown`},
		{FieldError{Field: "Redis.Port", Env: "REDIS_PORT", Value: "x", Reason: "bad"}, `REDIS_PORT="x": bad`},
	} {
		if got := tc.fe.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
	}
}

// Every exported error kind of the root package is listed in
// docs/operations.md's "Error kinds" table, and the table names no other.
func TestEveryErrorKindIsListed(t *testing.T) {
	doc, err := os.ReadFile("docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(doc)
	sec = sec[strings.Index(sec, "## Error kinds"):]
	sec = sec[:strings.Index(sec[3:], "\n## ")+3]
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `\\*?([A-Za-z]+)` \\|").FindAllStringSubmatch(sec, -1) {
		listed[m[1]] = true
	}
	var code []byte
	for _, f := range []string{"errors.go", "streams.go", "config.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		code = append(code, b...)
	}
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^(?:var |\t)(Err[A-Z][A-Za-z]*) += `).FindAllStringSubmatch(string(code), -1) {
		defined[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`(?m)^type ([A-Z][A-Za-z]*Error) (?:struct|=)`).FindAllStringSubmatch(string(code), -1) {
		defined[m[1]] = true
	}
	delete(defined, "FieldError") // a part of ConfigError, listed with it
	for k := range defined {
		if !listed[k] {
			t.Errorf("%s is not in docs/operations.md's Error kinds", k)
		}
	}
	for k := range listed {
		if !defined[k] {
			t.Errorf("docs/operations.md lists %s, which errors.go, streams.go and config.go do not define", k)
		}
	}
}
