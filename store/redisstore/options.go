package redisstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache/store"
)

// DefaultMaxFlushDelay is the flush delay Options.MaxFlushDelay 0 means.
const DefaultMaxFlushDelay = 20 * time.Microsecond

// DefaultTrackingBytesPerConn is the client-side cache rueidis keeps per
// connection when Options.OnInvalidations turns tracking on and
// Options.TrackingBytesPerConn is 0. The near tiers above hold the decoded
// values; rueidis's byte copies only bridge a read to its invalidation, so
// its own default (128 MiB per connection) would be mostly waste.
const DefaultTrackingBytesPerConn = 16 << 20

// Options says how to reach Redis, in terms of the deployment rather than
// of the client library. The zero value of every field means the documented
// default; Open validates what it cannot default.
//
// One of URL, Addr, ClusterAddrs and SentinelAddrs names the deployment:
// URL is rueidis's URL form (redis:// or rediss://, with ?addr= for more
// seeds and &master_set= for Sentinel) and wins over the fields it can
// carry (Username, Password, DB, TLS).
type Options struct {
	URL  string
	Addr string // host:port of a standalone primary

	ClusterAddrs []string // seeds of a Redis Cluster
	// SentinelAddrs and SentinelMaster name a Sentinel group and the master
	// set it monitors; SentinelUsername and SentinelPassword are the
	// sentinels' credentials (Username and Password are the data nodes').
	SentinelAddrs                      []string
	SentinelMaster                     string
	SentinelUsername, SentinelPassword string
	// ReplicaAddrs are read replicas of the standalone primary at Addr.
	ReplicaAddrs []string

	Username, Password string
	DB                 int

	// TLS turns TLS on; so does any of the TLS files or TLSServerName.
	// TLSServerName defaults to the first address's host.
	TLS                                               bool
	TLSServerName, TLSCAFile, TLSCertFile, TLSKeyFile string

	// MaxConnections bounds the pool used for blocking commands; two or
	// more also gives a standalone or Sentinel client a second pipelined
	// connection (a cluster keeps one per node).
	MaxConnections int
	// MaxFlushDelay lets the client wait this long after a write for more
	// commands to pipeline with it: 0 means DefaultMaxFlushDelay, negative
	// none.
	MaxFlushDelay time.Duration

	// ReplicaReadPrefixes sends the read-only commands whose first key
	// begins with one of these prefixes to a replica (on a Cluster, a
	// Sentinel group or a primary with ReplicaAddrs). Everything else,
	// writes, locks and version keys included, goes to the primary.
	ReplicaReadPrefixes []string

	// OnInvalidations turns on server-assisted client-side caching (RESP3
	// CLIENT TRACKING): Open then returns a store that implements
	// store.CachedReader, and the server's invalidations of keys read
	// through it arrive here, as keys, or nil when every tracked key must
	// be considered invalid (a connection was lost, or FLUSHALL).
	OnInvalidations func(keys []string)
	// TrackingBytesPerConn bounds the client-side copies per connection;
	// 0 means DefaultTrackingBytesPerConn.
	TrackingBytesPerConn int
}

// OptionError is an Options field that cannot be used. Field is the
// Options field's name; Reason never holds a password.
type OptionError struct {
	Field, Reason string
}

func (e *OptionError) Error() string {
	return "redisstore: " + e.Field + ": " + e.Reason
}

// Open builds the client Options describe and connects with New. With
// OnInvalidations set the store it returns implements
// store.CachedReader; without, it does not.
func Open(ctx context.Context, o Options) (store.Store, error) {
	opt, err := o.ClientOption()
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, opt)
	if err != nil {
		return nil, err
	}
	if o.OnInvalidations != nil {
		return &Tracked{s}, nil
	}
	return s, nil
}

// tlsWanted reports whether any TLS setting asks for TLS.
func (o Options) tlsWanted() bool {
	return o.TLS || o.TLSCAFile != "" || o.TLSCertFile != "" || o.TLSServerName != ""
}

// ClientOption turns Options into the rueidis options Open uses, for a
// caller that builds its own client (with hooks, say) and wraps it with
// NewFromClient.
func (o Options) ClientOption() (rueidis.ClientOption, error) {
	opt, err := o.addresses()
	if err != nil {
		return opt, err
	}
	if err := o.secure(&opt); err != nil {
		return opt, err
	}
	if opt.Sentinel.MasterSet != "" {
		// Sentinel tracking is otherwise driven only by +switch-master
		// events; a periodic check against the sentinels recovers from a
		// missed one (rueidis recommends a few seconds).
		opt.Sentinel.TopologyRefreshInterval = 2 * time.Second
		opt.Sentinel.Dialer.Timeout = time.Second
	}
	// Several seed addresses without a master set can only be a cluster
	// (a single address may be one too; rueidis finds out on connecting).
	cluster := len(o.ClusterAddrs) > 0 || len(opt.InitAddress) > 1 && opt.Sentinel.MasterSet == ""
	if cluster {
		// rueidis refreshes a cluster's slot map when a command fails, but
		// while a dead shard's breaker is open few commands reach it; a
		// periodic CLUSTER SLOTS finds the promoted replica within a
		// second regardless (measured: writes resumed 1.4s after the
		// promotion without it).
		opt.ClusterOption.ShardsRefreshInterval = time.Second
	}
	if send := replicaReads(o.ReplicaReadPrefixes); send != nil {
		opt.SendToReplicas = send
	} else if len(opt.Standalone.ReplicaAddress) > 0 {
		// rueidis insists on a policy when replicas are listed.
		opt.SendToReplicas = func(rueidis.Completed) bool { return false }
	}
	// rueidis multiplexes ordinary commands over a few pipelined
	// connections; MaxConnections bounds the pool used for blocking
	// commands. Two pipelined connections and a 20µs flush delay were the
	// fastest settings measured here at 50 goroutines (4.4µs/op and p99
	// 0.63ms for a decoded quote, against 5.7µs and 0.72ms for raw rueidis
	// with its defaults; see the root package's bench_test.go): the delay
	// lets each write carry more commands, which saves syscalls on a
	// CPU-bound box, and costs a serial caller nothing measurable because
	// its next command waits for a reply anyway.
	opt.BlockingPoolSize = o.MaxConnections
	opt.PipelineMultiplex = 0
	// On a cluster the load is already spread over a connection per node;
	// a second one each thinned every pipeline out (measured with
	// BenchmarkCluster at 50 goroutines: 7.4µs per Get with two
	// connections per node, 5.8µs with one).
	if o.MaxConnections >= 2 && !cluster {
		opt.PipelineMultiplex = 1
	}
	switch {
	case o.MaxFlushDelay > 0:
		opt.MaxFlushDelay = o.MaxFlushDelay
	case o.MaxFlushDelay == 0:
		opt.MaxFlushDelay = DefaultMaxFlushDelay
	}
	// rueidis retries read-only commands on network errors with backoff
	// until the ctx ends, so a GET against a dead Redis would hang for the
	// caller's whole deadline. A cache must answer quickly instead (and let
	// get-or-load fall back to its loader or a stale value): one quick
	// retry covers a connection that was reset and redials at once.
	opt.RetryDelay = func(attempts int, _ rueidis.Completed, _ error) time.Duration {
		if attempts > 1 {
			return -1
		}
		return time.Millisecond
	}
	if opt.Dialer.Timeout == 0 {
		opt.Dialer.Timeout = time.Second // a data-center dial; rueidis's default is 5s
	}
	o.tracking(&opt)
	opt.ClientName = "tradecache"
	return opt, nil
}

// addresses are where the client connects: the URL's, or the one address,
// the cluster's seeds or the sentinels given, with the credentials.
func (o Options) addresses() (opt rueidis.ClientOption, err error) {
	if o.URL != "" {
		if opt, err = rueidis.ParseURL(o.URL); err != nil {
			return opt, &OptionError{Field: "URL", Reason: err.Error()}
		}
		return opt, nil
	}
	switch {
	case len(o.ClusterAddrs) > 0:
		opt.InitAddress = append([]string(nil), o.ClusterAddrs...)
	case len(o.SentinelAddrs) > 0:
		opt.InitAddress = append([]string(nil), o.SentinelAddrs...)
		opt.Sentinel.MasterSet = o.SentinelMaster
		opt.Sentinel.Username, opt.Sentinel.Password = o.SentinelUsername, o.SentinelPassword
	case o.Addr != "":
		opt.InitAddress = []string{o.Addr}
		opt.Standalone.ReplicaAddress = append([]string(nil), o.ReplicaAddrs...)
	default:
		return opt, &OptionError{Field: "Addr", Reason: "no address: set one of URL, Addr, ClusterAddrs and SentinelAddrs"}
	}
	opt.Username, opt.Password, opt.SelectDB = o.Username, o.Password, o.DB
	return opt, nil
}

// secure sets up TLS when the URL (rediss://) or the TLS settings ask for
// it, for the sentinels too.
func (o Options) secure(opt *rueidis.ClientOption) error {
	if opt.TLSConfig == nil && !o.tlsWanted() {
		return nil
	}
	if opt.TLSConfig == nil { // a redis:// URL with TLS settings: TLS all the same
		host, _, _ := net.SplitHostPort(opt.InitAddress[0])
		opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if err := o.applyTLS(opt.TLSConfig); err != nil {
		return err
	}
	if opt.Sentinel.MasterSet != "" {
		opt.Sentinel.TLSConfig = opt.TLSConfig.Clone() // sentinels and data nodes share one CA
	}
	return nil
}

// tracking turns on client-side caching for a caller that takes the
// invalidations: it costs CLIENT TRACKING on every connection, so it is
// off otherwise.
func (o Options) tracking(opt *rueidis.ClientOption) {
	opt.DisableCache = o.OnInvalidations == nil
	if opt.DisableCache {
		return
	}
	on := o.OnInvalidations
	opt.OnInvalidations = func(msgs []rueidis.RedisMessage) {
		if msgs == nil {
			on(nil)
			return
		}
		keys := make([]string, 0, len(msgs))
		for _, m := range msgs {
			if k, err := m.ToString(); err == nil {
				keys = append(keys, k)
			}
		}
		on(keys)
	}
	opt.CacheSizeEachConn = o.TrackingBytesPerConn
	if opt.CacheSizeEachConn <= 0 {
		opt.CacheSizeEachConn = DefaultTrackingBytesPerConn
	}
}

// replicaReads returns the rueidis policy that sends read-only commands
// whose first key has one of prefixes to replicas, or nil for no prefixes.
// It looks only at the first key, so that lock, version and write
// commands stay on the primary.
func replicaReads(prefixes []string) func(rueidis.Completed) bool {
	if len(prefixes) == 0 {
		return nil
	}
	prefixes = append([]string(nil), prefixes...)
	return func(cmd rueidis.Completed) bool {
		if !cmd.IsReadOnly() {
			return false
		}
		args := cmd.Commands()
		if len(args) < 2 {
			return false
		}
		for _, p := range prefixes {
			if strings.HasPrefix(args[1], p) {
				return true
			}
		}
		return false
	}
}

// applyTLS loads the CA bundle and client certificate into c.
func (o Options) applyTLS(c *tls.Config) error {
	if o.TLSServerName != "" {
		c.ServerName = o.TLSServerName
	}
	if o.TLSCAFile != "" {
		pem, err := os.ReadFile(o.TLSCAFile)
		if err != nil {
			return &OptionError{Field: "TLSCAFile", Reason: err.Error()}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return &OptionError{Field: "TLSCAFile", Reason: "no PEM certificates in it"}
		}
		c.RootCAs = pool
	}
	if o.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return &OptionError{Field: "TLSCertFile", Reason: err.Error()}
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return nil
}

// describe is what Describe reports for a client built with opt.
func describe(c rueidis.Client, opt rueidis.ClientOption) store.Description {
	d := store.Description{
		Backend: "redis", Topology: string(c.Mode()),
		BlockingPoolSize:     opt.BlockingPoolSize,
		PipelinedConnections: 1 << max(opt.PipelineMultiplex, 0), // rueidis's rule
		PerNode:              c.Mode() == rueidis.ClientModeCluster,
	}
	if d.BlockingPoolSize == 0 {
		d.BlockingPoolSize = rueidis.DefaultPoolSize
	}
	return d
}
