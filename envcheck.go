package tradecache

import (
	"errors"
	"os"
	"sort"
	"strings"
)

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

// ConfigFromEnv reads the configuration from the environment. A variable
// that is unset or empty keeps its default. It returns a *ConfigError that
// names every unparsable or invalid variable; the Config it returns beside
// an error holds whatever did parse.
//
// Durations (the TTLs and CACHE_SLOW_OP_THRESHOLD) are seconds, as in the
// layer this replaces ("3600", "0.1"), or Go durations ("250ms", "1h").
// Booleans accept true/false, 1/0, yes/no and on/off.
//
// In staging and production a Redis address is required (a missing one is
// a *ConfigError naming REDIS_HOST and REDIS_URL, never a silent fall back
// to the in-memory store), and so it is in any environment when another
// Redis variable is set. A REDIS_* or CACHE_* variable within two edits of
// a known name (REDIS_ULR) is refused with the name it was probably meant
// to be; UnknownEnv lists all the unknown ones.
func ConfigFromEnv() (Config, error) {
	cfg, err := configFrom(os.LookupEnv)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		ce = &ConfigError{}
	}
	for _, kv := range os.Environ() {
		name, val, _ := strings.Cut(kv, "=")
		if near, ok := typo(name); ok && strings.TrimSpace(val) != "" {
			ce.add("", name, "", "set, but not a variable tradecache reads (its value is not shown); did you mean "+near+"?")
		}
	}
	if e := ce.orNil(); e != nil {
		return cfg, e
	}
	return cfg, err
}
