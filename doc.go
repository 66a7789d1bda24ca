// Package tradecache is a caching layer over Redis for trading systems:
// market data, portfolio and risk calculations, and user sessions.
//
// A Cache encodes values with an exact, versioned codec (decimals keep
// their scale, times keep their zone), stores them under namespaced keys
// with per-namespace TTL policies, and runs on Redis (through rueidis) or on
// an embedded in-memory store with the same behaviour.
//
// Data flows one way: caller → Cache and Namespace (keys, TTL policy,
// options) → one I/O path (codec, near tier, batching, observation) →
// store (Redis or memory, behind deadlines and circuit breakers). Nothing
// below the Cache knows about trading, and nothing above the store knows
// which backend it is.
//
//	cache, err := tradecache.New(ctx, tradecache.Config{})  // in-memory
//	quotes := cache.Namespace(tradecache.NamespaceMarketData)
//	err = quotes.Set(ctx, "AAPL", quote, 0)                   // TTL from the policy
//	found, err := quotes.Get(ctx, "AAPL", &quote)
//
// # Contents
//
// Opening a cache: [New] with a [Config] ([ConfigFromEnv], [RedisConfig],
// [NamespaceConfig], [NearConfig]) and options of type [Option] ([WithStore], [WithClock],
// [WithLogger], [WithOpenTelemetry]); [Cache.Close].
//
// Reading and writing: a typed [Handle] ([Of], [OfNamespace]) for a value
// type, the untyped [Namespace] ([Cache.Namespace]) beside it, and, for
// either, [GetNear] and [GetManyNear] through the near tier. A batch
// reader that keeps its values its own way uses [Handle.GetManyFunc] and
// builds no map.
//
// Loading: [GetOrLoad], [GetManyOrLoad] and [Memoize], with options of type [LoadOption]
// ([WithTTL], [WithMaxStale], [WithLock], [WithTags], ...), answering with
// [Meta] (its [Source], its age, whether it is stale).
//
// Invalidating: [Namespace.Delete] and [Cache.ClearNamespace]; tags
// ([Tagged], [TaggedAsOf], [Cache.TagTokens], [Cache.InvalidateTag]); all
// of them durable while Redis is away ([InvalidationStats],
// [ErrInvalidationQueueFull]).
//
// Streams: [StreamOf] (Publish, Snapshot, Range, and a [StreamGroup] of
// consumers), [StreamsOf] for many keys at once ([Update],
// [PublishResult], [StreamEvent]).
//
// Watching: [Cache.Health] and [Cache.HealthHandler], [Cache.Stats]
// ([Stats], [OpStats], [NamespaceStats], [StreamStats]), and
// [Cache.FleetStats], every instance's published figures (package fleet).
//
// Errors: sentinels to test with errors.Is ([ErrUnavailable],
// [ErrTimeout], [ErrNotFound], ...) and types to read with errors.As
// ([OpError], [KeyError], [ArgumentError], [SerializationError],
// [PartialError], [LoadError], [PanicError], [ConfigError]).
//
// # Near cache
//
// The near cache is an in-process tier of decoded values in front of
// Redis, opt-in per namespace (NamespaceConfig.Near), read with GetNear,
// GetManyNear, and get-or-load on such a namespace.
//
// Invalidation uses Redis's server-assisted client-side caching: a near
// miss reads through rueidis DoCache, which registers the key with CLIENT
// TRACKING on that connection, so any client's write to it makes the
// server push an invalidation, and the entry is dropped. Default
// (per-key) tracking was chosen over BCAST prefix tracking: the server
// then notifies only keys this process actually holds, not every write
// under a hot namespace, which for market data would be every tick. When
// a connection is lost, rueidis reports it and the whole tier is flushed:
// a value is never served once its invalidation could have been missed.
// Entries also expire at the value's own TTL (and at MaxAge), so a value
// outlives neither.
//
// Own writes are read back at once. The server's invalidation for a write
// this process made arrives asynchronously, a few milliseconds later, and
// until then rueidis's per-connection copy still holds the old value. So a
// write through this Cache drops the key from the near tier itself and,
// for 250 ms, reads of that key skip the tracked path (a plain GET,
// nothing kept); after the window the server's invalidation has long
// arrived (p99 4 ms measured across instances). ClearNamespace does the
// same for the whole namespace.
//
// Values are shared, not copied: GetNear returns the cached value itself
// (copying T by value, but slices, maps and pointers inside it are the
// cached ones). Treat them as immutable. A private copy would mean decoding
// per hit, 575-620 ns for a quote (codec BenchmarkQuoteBudget), against
// 76 ns for a shared hit (BenchmarkNearHit): eight times the cost for a
// guarantee the caller can keep by not writing to what it reads.
package tradecache
