package tradecache

import (
	"os"
	"sort"
	"strings"
)

// needsAddress lists the Redis variables that mean nothing without an
// address: set alone, they say Redis was meant, and the in-memory store
// would quietly stand in for it.
var needsAddress = []string{
	"REDIS_PORT", "REDIS_DB", "REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_SSL", "REDIS_MAX_CONNECTIONS",
	"REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE", "REDIS_TLS_SERVER_NAME",
	"REDIS_REPLICA_ADDRS", "REDIS_READ_FROM_REPLICAS",
}

// UnknownEnv lists the REDIS_* and CACHE_* variables of the environment
// that the layer does not read, each with the known name nearest to it:
// "REDIS_ULR (did you mean REDIS_URL?)". A typo in a variable's name would
// otherwise leave its default in force without a word. ConfigFromEnv
// refuses the ones within two edits of a known name; the others (a
// platform's own REDIS_SERVICE_HOST, say) are for the caller to warn of.
func UnknownEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, val, _ := strings.Cut(kv, "=")
		if strings.TrimSpace(val) == "" {
			continue // unset, as an empty known variable is
		}
		if near, ok := unknownVariable(name); ok {
			s := name
			if near != "" {
				s += " (did you mean " + near + "?)"
			}
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// unknownVariable reports whether name is a REDIS_* or CACHE_* variable
// the layer does not read, and the known name nearest to it.
func unknownVariable(name string) (nearest string, unknown bool) {
	if !strings.HasPrefix(name, "REDIS_") && !strings.HasPrefix(name, "CACHE_") {
		return "", false
	}
	best := -1
	for _, st := range settings {
		if st.Env == name {
			return "", false
		}
		if st.Env == "" {
			continue
		}
		if d := editDistance(name, st.Env); best < 0 || d < best {
			best, nearest = d, st.Env
		}
	}
	return nearest, true
}

// typo reports an unknown variable within two edits of a known one.
func typo(name string) (string, bool) {
	near, unknown := unknownVariable(name)
	if !unknown || near == "" || editDistance(name, near) > 2 {
		return "", false
	}
	return near, true
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
