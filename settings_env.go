package tradecache

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/tradecache/tradecache/codec"
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
		if reason := parse(st.field(&cfg), v); reason != "" {
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
