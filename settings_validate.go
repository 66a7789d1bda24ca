package tradecache

import (
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tradecache/tradecache/codec"
)

// Validate checks the configuration and returns a *ConfigError naming
// every bad field, or nil. Zero values are valid: they mean defaults.
func (c Config) Validate() error {
	errs := &ConfigError{}
	for _, st := range settings {
		if st.check == nil || st.field(&c).IsZero() {
			continue
		}
		if reason := st.check(c, st.field(&c)); reason != "" {
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
