"""An asyncio cache over Redis that shares keys, envelopes, TTL policies,
the market-data version guard and the portfolio tags with the
Go library: a Go service and a Python service read each other's values.

Its API is the one of the Python layer tradecache replaced, so that code
written against it moves with an import change:

    cache_manager = CacheManager()                      # REDIS_* and CACHE_*, as in Go
    async with cache_manager:
        await cache_manager.set("key", {"value": 123}, ttl=300)
        result = await cache_manager.get("key", default={})
        await cache_manager.cache_market_data("AAPL", market_data, "quote")

Key-first calls act in the "default" namespace, or the one given with
namespace=. Beside them, a namespace handle does the same without
repeating it: ``risk = cache_manager.ns("risk"); await risk.get("VaR")``.

Resilience is the Go side's: every call is bounded by the operation
timeout, connecting included; a circuit breaker opens after repeated
failures and fails calls at once (CircuitOpenError, naming its cause) until
a probe or a health check reaches Redis again; errors are CacheError's
kinds, never a raw redis-py exception.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as _dt
import decimal
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Mapping, TypeVar

from . import envelope, keyslot
from .backend import Backend, MemoryBackend, PoolWait, RedisBackend, batches
from .breaker import CircuitBreaker
from .config import (NAMESPACE_DEFAULT, NAMESPACE_MARKET_DATA, NAMESPACE_PORTFOLIO, NAMESPACE_RISK,
                     NAMESPACE_SESSION, CacheEnvironment, Config, check_key, check_name)
from .envelope import EnvelopeError, Stamp, TcTime
from .errors import (CacheAuthError, CacheCommandError, CacheError, CacheTimeoutError, CircuitOpenError,
                     InvalidKeyError, RedisConnectionError, SerializationError, ValueTooLarge)

if TYPE_CHECKING:
    from .handle import Handle

log = logging.getLogger("tradecache")

MARKET_DATA_KINDS = ("quote", "trade", "bar", "book")
LATENCY_WINDOW = 4096  # latencies kept per operation for percentiles
PARTS = 16  # partition breakers on a cluster
NAMESPACE_MODELS, NAMESPACE_PREDICTIONS, NAMESPACE_FEATURES = "models", "predictions", "features"


def model_version_tag(name: str, version: str) -> str:
    """The tag every entry of a model or feature set at version carries
    (Go's models.VersionTag)."""
    return f"model:{name}@{version}"


DEFAULT_INVALIDATION_QUEUE = 10000  # as Go's DefaultInvalidationQueue


class InvalidationQueueFull(CacheError):
    """An invalidation could not reach Redis, and the queue of those waiting
    for it was full (Go's ErrInvalidationQueueFull): this process does not
    serve the value, but Redis, and so other processes, still may."""


class _InvalQueue:
    """Durable invalidation, as Go's (docs/tags.md): deletes, tag
    invalidations and namespace clears that could not reach Redis, one
    entry per target, oldest first, applied when Redis answers again."""

    def __init__(self, limit: int = DEFAULT_INVALIDATION_QUEUE):
        self.limit = limit
        self.entries: dict[tuple[str, str], float] = {}  # (kind, target) -> when queued; insertion order is FIFO
        self.queued = self.applied = self.dropped = 0
        self.next_try = 0.0

    def add(self, kind: str, target: str) -> bool:
        if (kind, target) in self.entries:
            return True
        if len(self.entries) >= self.limit:
            self.dropped += 1
            return False
        self.entries[(kind, target)] = time.monotonic()
        self.queued += 1
        return True

    def stats(self) -> dict[str, Any]:
        oldest = min(self.entries.values(), default=None)
        return {"queued": len(self.entries), "enqueued": self.queued, "applied": self.applied, "dropped": self.dropped,
                "oldest_age_s": 0.0 if oldest is None else time.monotonic() - oldest}


_UNREACHABLE = (RedisConnectionError, CacheTimeoutError)


def portfolio_tag(portfolio: str) -> str:
    """The tag every calculation of portfolio carries (Go's trading.PortfolioTag)."""
    return "portfolio:" + portfolio


def symbol_tag(symbol: str) -> str:
    """The tag of a value that depends on symbol's quote (Go's trading.SymbolTag)."""
    return "symbol:" + symbol


TAG_TTL_MS = 30 * 24 * 3600 * 1000  # a tag's token lives 30 days after it was set, as in Go
_OFF_LOOP = 256 << 10  # values larger than this are decoded and encoded in a thread

T = TypeVar("T")


def _redis_errors():
    import redis.exceptions as rex

    return rex


def classify(e: BaseException) -> tuple[CacheError, bool]:
    """(the package's error for e, whether it counts against the
    breaker). A refused password and an unreachable or silent server count;
    an error reply (the server is up), and a wait for a pooled connection
    (this process is busy, not Redis), do not."""
    rex = _redis_errors()
    text = str(e)
    if isinstance(e, CacheError):
        return e, False
    if isinstance(e, rex.AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text or \
            isinstance(e, rex.AuthenticationWrongNumberOfArgsError):
        return CacheAuthError(f"authentication failed: {text}"), True
    if isinstance(e, PoolWait) or isinstance(e, rex.ConnectionError) and "No connection available" in text:
        return CacheTimeoutError(f"no pooled connection within the operation timeout: {text}"), False
    if isinstance(e, (rex.TimeoutError, asyncio.TimeoutError, TimeoutError)):
        return CacheTimeoutError(f"Redis did not answer within the timeout: {text or type(e).__name__}"), True
    if isinstance(e, (rex.ConnectionError, OSError)):
        return RedisConnectionError(f"Redis unavailable: {text or type(e).__name__}"), True
    if isinstance(e, rex.ResponseError):
        return CacheCommandError(f"Redis refused the command: {text}"), False
    if isinstance(e, rex.RedisError):
        return RedisConnectionError(f"Redis: {type(e).__name__}: {text}"), True
    raise e


class _Window:
    """The last LATENCY_WINDOW latencies of one operation, for percentiles,
    and running totals for the mean."""

    __slots__ = ("lat", "count", "total")

    def __init__(self) -> None:
        self.lat: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self.count = 0
        self.total = 0.0

    def add(self, s: float) -> None:
        self.lat.append(s)
        self.count += 1
        self.total += s


@dataclasses.dataclass
class _Counts:
    hits: int = 0
    misses: int = 0
    sets: int = 0
    deletes: int = 0
    errors: int = 0


def _percentile(sorted_: list[float], q: float) -> float:
    if not sorted_:
        return 0.0
    return sorted_[min(len(sorted_) - 1, int(q * len(sorted_)))]


class RedisCache:
    """The low-level side, as in the layer tradecache replaced: the
    backend (Redis in any topology, or this process's memory), the circuit
    breaker, the operation bounds and the figures. CacheManager builds on
    it; use it directly to test a connection:

        cache = RedisCache()
        await cache.connect()          # raises RedisConnectionError, CacheAuthError, CacheTimeoutError
        await cache._client.ping()
        await cache.disconnect()
    """

    def __init__(self, config: Config | None = None, *, client: Any = None,
                 circuit_breaker: CircuitBreaker | None = None, metrics_collector: Any = None,
                 environment: str | CacheEnvironment | None = None):
        self.config = config if config is not None else Config.from_env(environment)
        self.config.validate()
        c = self.config
        if client is None and c.topology == "memory":
            log.info("tradecache: no Redis address configured (REDIS_URL, REDIS_HOST): using this process's "
                     "in-memory store (environment %s)", c.environment)
            self.backend: Backend = MemoryBackend()
        else:
            self.backend = RedisBackend(c, client)
        self.breaker = circuit_breaker or CircuitBreaker(c.breaker_failures or 5, c.breaker_open_timeout or 1.0)
        # On a cluster, single-key calls go through one breaker per sixteenth
        # of the hash slots, as the Go side's partition breakers: one dead
        # shard fails fast its own keys, while the others' are served.
        self.parts: list[CircuitBreaker] = []
        if self.backend.kind == "cluster":
            t = self.breaker.timeout
            self.parts = [CircuitBreaker(self.breaker.failure_threshold, t, name=f"slots-{i}") for i in range(PARTS)]
        self.metrics = metrics_collector
        self.counts: dict[str, _Counts] = {}
        self.windows: dict[str, _Window] = {}
        self.names_ok: set[str] = set()
        self.started = time.time()
        self._slow = c.slow_ops_logged
        self._slow_threshold = c.slow_op_threshold or 0.1
        self._metrics_on = c.metrics_enabled

    @property
    def _client(self) -> Any:
        """The redis.asyncio client (or the in-memory backend, which also
        answers ping)."""
        return getattr(self.backend, "op", self.backend)

    @property
    def kind(self) -> str:
        return self.backend.kind

    async def connect(self) -> None:
        """Reach Redis once (PING), through the breaker and the bounds."""
        await self.run("ping", NAMESPACE_DEFAULT, "", self.backend.ping)

    async def disconnect(self) -> None:
        await self.backend.close()

    close = disconnect

    async def exists(self, key: str, namespace: str = NAMESPACE_DEFAULT) -> bool:
        full = self.key(namespace, key)
        return await self.run("exists", namespace, key, self.backend.exists, full, route=full)

    def key(self, namespace: str, key: str) -> str:
        """The Redis key: "<prefix>:<namespace>:<key>", as in Go."""
        if namespace not in self.names_ok:
            if reason := check_name(namespace):
                raise InvalidKeyError(f"namespace {namespace!r}: {reason}").with_context("", namespace, key)
            if len(self.names_ok) < 1024:  # names already checked: a bounded set, so derived names cannot grow it
                self.names_ok.add(namespace)
        if reason := check_key(key, self.config.max_key_length):
            raise InvalidKeyError(f"key {key!r}: {reason}").with_context("", namespace, key)
        return f"{self.config.key_prefix}:{namespace}:{key}"

    def keys(self, namespace: str, keys: list[str]) -> list[str]:
        """key() of each of keys: the namespace checked once, and each key's
        common form (printable ASCII without spaces) checked in C, inline;
        any other goes through key(), which says what is wrong with it."""
        head = self.key(namespace, keys[0])[:-len(keys[0])] if keys else ""
        limit = self.config.max_key_length
        out = []
        for k in keys:
            if type(k) is str and k.isascii() and k.isprintable() and " " not in k and 0 < len(k) <= limit:
                out.append(head + k)
            else:
                out.append(self.key(namespace, k))
        return out

    def count(self, namespace: str) -> _Counts:
        c = self.counts.get(namespace)
        if c is None:
            c = self.counts[namespace] = _Counts()
        return c

    def breakers(self) -> list[CircuitBreaker]:
        return [self.breaker, *self.parts]

    async def run(self, op: str, namespace: str, key: str, fn: Callable[..., Awaitable[T]], *args: Any,
                  route: str | None = None, blocking: bool = False) -> T:
        """One backend call through the breaker (route, the Redis key of a
        single-key call, picks a partition's on a cluster), classified,
        timed and counted. Bounded by the backend (see backend.py).
        blocking marks a read that waits on the server (XREAD BLOCK): its
        timeout is not held against the breaker, and its time, mostly
        waiting, is neither timed nor logged as slow."""
        br = self.parts[keyslot.slot(route) * PARTS // 16384] if route is not None and self.parts else self.breaker
        try:
            br.allow()
        except CircuitOpenError as e:
            self.count(namespace).errors += 1
            raise e.with_context(op, namespace, key)
        t0 = time.perf_counter()
        try:
            r = await fn(*args)
        except asyncio.CancelledError:
            br.excluded()
            raise
        except Exception as raw:
            err, failure = classify(raw)
            if blocking and isinstance(err, CacheTimeoutError):
                br.excluded()
            elif failure:
                br.failure(err)
            else:
                br.success()
            self.count(namespace).errors += 1
            self._observe(op, namespace, time.perf_counter() - t0, error=True)
            raise err.with_context(op, namespace, key) from raw
        br.success()
        if not blocking:
            self._observe(op, namespace, time.perf_counter() - t0)
        return r

    def _observe(self, op: str, namespace: str, s: float, error: bool = False) -> None:
        if self._metrics_on:
            w = self.windows.get(op)
            if w is None:
                w = self.windows[op] = _Window()
            w.add(s)
        if self._slow and s > self._slow_threshold:
            log.warning("tradecache: slow operation: %s in %s took %.1f ms", op, namespace, s * 1000)
        m = self.metrics
        if m is not None:
            try:
                if hasattr(m, "timing"):
                    m.timing("cache.operation", s, {"op": op, "namespace": namespace, "error": error})
                if error and hasattr(m, "increment"):
                    m.increment("cache.errors", 1, {"op": op, "namespace": namespace})
            except Exception:  # a metrics sink never breaks a cache call
                log.debug("tradecache: metrics collector failed", exc_info=True)

    def stats(self) -> dict[str, Any]:
        def rate(c: _Counts) -> float:
            return c.hits / (c.hits + c.misses) if c.hits + c.misses else 0.0

        total = _Counts()
        per_ns = {}
        for name, c in sorted(self.counts.items()):
            for f in dataclasses.fields(c):
                setattr(total, f.name, getattr(total, f.name) + getattr(c, f.name))
            per_ns[name] = {**dataclasses.asdict(c), "hit_rate": rate(c)}
        lat = sorted(x for w in self.windows.values() for x in w.lat)
        count = sum(w.count for w in self.windows.values())
        mean = sum(w.total for w in self.windows.values()) / count if count else 0.0
        ops = {op: {"count": w.count, "avg_latency_ms": w.total / w.count * 1000 if w.count else 0.0,
                    "p99_latency_ms": _percentile(sorted(w.lat), 0.99) * 1000} for op, w in sorted(self.windows.items())}
        operations = max(count, total.hits + total.misses + total.sets + total.deletes)
        return {
            "cache_manager": {
                **dataclasses.asdict(total), "hit_rate": rate(total), "total_operations": operations,
                "error_rate": total.errors / operations if operations else 0.0,
                "avg_latency_ms": mean * 1000, "p50_latency_ms": _percentile(lat, 0.5) * 1000,
                "p95_latency_ms": _percentile(lat, 0.95) * 1000, "p99_latency_ms": _percentile(lat, 0.99) * 1000,
                "uptime_seconds": time.time() - self.started, "backend": self.kind,
                "key_prefix": self.config.key_prefix, "environment": str(self.config.environment),
            },
            "operations": ops,
            "namespaces": per_ns,
            "circuit_breaker": {**self.breaker.stats(),
                                "open_parts": sum(1 for b in self.parts if b.state != "closed"), "parts": len(self.parts)},
        }


class CacheManager:
    """The cache, with the old layer's API. Create it with CacheManager()
    (configured from REDIS_* and CACHE_*; environment= names the
    environment), CacheManager(config), or from_env(); use it as an async
    context manager, or call close().

    Values are anything the envelope encodes: None, bool, int, float,
    str, bytes, decimal.Decimal, datetime (naive ones as local time),
    TcTime, and lists and dicts of those. Times come back as datetime, or
    as TcTime with Config(times="tctime").

    circuit_breaker: a CircuitBreaker to use instead of one built from
    CACHE_BREAKER_FAILURES and CACHE_BREAKER_OPEN_TIMEOUT.
    metrics_collector: any object with timing(name, seconds, tags) and/or
    increment(name, n, tags); each call reports to it.
    """

    def __init__(self, config: Config | None = None, client: Any = None, *,
                 environment: str | CacheEnvironment | None = None, circuit_breaker: CircuitBreaker | None = None,
                 metrics_collector: Any = None):
        self._redis_cache = RedisCache(config, client=client, circuit_breaker=circuit_breaker,
                                       metrics_collector=metrics_collector, environment=environment)
        self.config = self._redis_cache.config
        self._rc = self._redis_cache
        self._inflight: dict[str, asyncio.Future] = {}
        self._handles: dict[str, Namespace] = {}
        self._inval = _InvalQueue()
        self._times = self.config.times

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, environment: str | None = None) -> "CacheManager":
        return cls(Config.from_env(environment, environ))

    @property
    def redis(self) -> Any:
        """The redis.asyncio client behind the cache (None on the in-memory
        store): for commands the cache does not offer."""
        return getattr(self._rc.backend, "op", None)

    @property
    def breaker(self) -> CircuitBreaker:
        return self._rc.breaker

    async def __aenter__(self) -> "CacheManager":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def connect(self) -> None:
        await self._rc.connect()

    async def close(self) -> None:
        await self._rc.disconnect()

    disconnect = close

    def ns(self, namespace: str) -> "Namespace":
        """A handle on one namespace: the same calls without namespace=."""
        h = self._handles.get(namespace)
        if h is None:
            if reason := check_name(namespace):
                raise InvalidKeyError(f"namespace {namespace!r}: {reason}")
            h = self._handles[namespace] = Namespace(self, namespace)
        return h

    def of(self, typ: type, namespace: str) -> "Handle":
        """A typed handle on one namespace (see tradecache.handle), as Go's
        tradecache.Of[T](cache, namespace)."""
        from .handle import Handle
        return Handle(self.ns(namespace), typ)

    # --- keys and envelopes --------------------------------------------------

    def key(self, namespace: str, key: str) -> str:
        """The Redis key: "<prefix>:<namespace>:<key>", as in Go."""
        return self._rc.key(namespace, key)

    def _encode(self, namespace: str, full: str, value: Any, stamp: Stamp | None = None,
                tags: list[tuple[str, str]] | None = None) -> bytes:
        c = self.config
        try:
            b = envelope.encode(value, storage_key=full, compression=c.compression,
                                compress_threshold=c.compress_threshold, keyring=c.keyring,
                                seal=c.sealed(namespace), stamp=stamp, max_decoded_size=c.max_decoded_size, tags=tags)
        except (TypeError, OverflowError, ValueError) as e:
            raise SerializationError(f"{full}: cannot encode {type(value).__name__}: {e}").with_context(
                "encode", namespace, full) from e
        if len(b) > c.max_value_bytes:
            raise ValueTooLarge(f"{full}: {len(b)} bytes encoded, over {c.max_value_bytes}").with_context(
                "encode", namespace, full)
        return b

    # --- durable invalidation (docs/tags.md) ----------------------------------
    # A delete, tag invalidation or namespace clear that cannot reach Redis
    # is queued, not raised: the value reads as absent here at once, and
    # the queue is applied, oldest first, by the next call once Redis
    # answers (Python has no background checker), and before any write of
    # this process to the same key. Another process may read the old value
    # until then.

    def _pattern(self, namespace: str) -> str:
        return _escape_glob(f"{self.config.key_prefix}:{namespace}:") + "*"

    def _queue(self, kind: str, targets: Iterable[str], cause: CacheError) -> None:
        full = [t for t in targets if not self._inval.add(kind, t)]
        if full:
            raise InvalidationQueueFull(f"{len(full)} invalidations not kept for when Redis answers again "
                                        f"(queue of {self._inval.limit} full): {cause}") from cause
        log.warning("tradecache: Redis is unreachable: %d invalidations queued, applied when it answers again: %s",
                    len(self._inval.entries), cause)

    def _pending(self, namespace: str, full: str) -> bool:
        q = self._inval.entries
        return bool(q) and (("key", full) in q or ("clear", self._pattern(namespace)) in q)

    async def _apply(self, kind: str, target: str) -> None:
        be = self._rc.backend
        if kind == "key":
            await self._rc.run("delete", "", "", be.delete, [target], route=target)
        elif kind == "tag":
            await self._rc.run("invalidate_tag", "", "", be.set_many, [(self._tag_key(target), envelope.new_tag_token().encode())],
                               TAG_TTL_MS)
        else:
            await self._rc.run("clear_namespace", "", "", be.scan_delete, target, 1000)
        if self._inval.entries.pop((kind, target), None) is not None:
            self._inval.applied += 1

    async def _drain(self) -> None:
        """Apply what is queued, oldest first, at most every 25 ms; stop at
        the first failure (Redis is still away)."""
        if not self._inval.entries or time.monotonic() < self._inval.next_try:
            return
        self._inval.next_try = time.monotonic() + 0.025
        for kind, target in list(self._inval.entries):
            try:
                await self._apply(kind, target)
            except CacheError:
                return

    async def _settle(self, namespace: str, full: str) -> None:
        """Before a write of full: its namespace's queued clear, then its
        queued delete; a write must not be overtaken by an older
        invalidation. Raises when they cannot be applied."""
        if not self._inval.entries:
            return
        for kind, target in (("clear", self._pattern(namespace)), ("key", full)):
            if (kind, target) in self._inval.entries:
                await self._apply(kind, target)

    # --- tags (docs/tags.md): a tagged value carries each tag's token as it
    # stood before it was computed, and reads as absent once any token has
    # moved. Python holds no tokens in process (no tracking): a read of a
    # tagged value reads its tags' tokens, one MGET.

    def _tag_key(self, tag: str) -> str:
        if reason := check_key(tag, envelope.MAX_TAG_BYTES):
            raise ValueError(f"tag {tag!r}: {reason}")
        return f"{self.config.key_prefix}:#tag:{tag}"

    async def tag_tokens(self, tags: Iterable[str]) -> list[tuple[str, str]]:
        """The current token of each tag, made when it has none: read them
        before computing a value, and pass them to set(tags_as_of=...), so
        that an invalidation in between makes the value absent."""
        tags = list(tags)
        if len(tags) > envelope.MAX_TAGS:
            raise ValueError(f"{len(tags)} tags, over {envelope.MAX_TAGS}")
        keys = [self._tag_key(t) for t in tags]
        if not keys:
            return []
        be = self._rc.backend
        cur = await self._rc.run("tag_tokens", "", "", be.mget, keys)
        out = []
        for tag, k, tok in zip(tags, keys, cur):
            if tok is None:
                new = envelope.new_tag_token()
                if await self._rc.run("tag_tokens", "", tag, be.set_nx, k, new.encode(), TAG_TTL_MS, route=k):
                    tok = new.encode()
                else:
                    tok = await self._rc.run("tag_tokens", "", tag, be.get, k, route=k)
                    if tok is None:
                        raise CacheCommandError(f"tag {tag!r}: its token expired while it was read; try again")
            out.append((tag, tok.decode()))
        return out

    async def _tags_hold(self, tags: list[tuple[str, str]]) -> bool:
        if self._inval.entries and any(("tag", name) in self._inval.entries for name, _ in tags):
            return False
        keys = [self._tag_key(name) for name, _ in tags]
        cur = await self._rc.run("tag_tokens", "", "", self._rc.backend.mget, keys)
        return all(c is not None and c.decode() == tok for c, (_, tok) in zip(cur, tags))

    async def invalidate_tag(self, *tags: str) -> None:
        """Make every value carrying any of tags absent, in every namespace
        and every process, Go's included: each tag gets a new token."""
        if len(tags) > envelope.MAX_TAGS:
            raise ValueError(f"{len(tags)} tags, over {envelope.MAX_TAGS}")
        items = [(self._tag_key(t), envelope.new_tag_token().encode()) for t in tags]
        if not items:
            return
        await self._drain()
        try:
            await self._rc.run("invalidate_tag", "", "", self._rc.backend.set_many, items, TAG_TTL_MS)
        except _UNREACHABLE as e:
            self._queue("tag", tags, e)
            return
        for t in tags:  # applied now: an older queued one is moot
            if self._inval.entries.pop(("tag", t), None) is not None:
                self._inval.applied += 1

    def _decode_meta(self, namespace: str, full: str, b: bytes) -> tuple[Any, Any]:
        """(value, tags): the tags of a tagged value, None for any other."""
        if not envelope.maybe_tagged(b):
            return self._decode(namespace, full, b), None
        c = self.config
        try:
            v, _, tags = envelope.decode_meta(b, storage_key=full, keyring=c.keyring, sealed=c.sealed(namespace),
                                              max_decoded_size=c.max_decoded_size, times=self._times)
        except EnvelopeError as e:
            e.with_context("decode", namespace, full)
            raise
        return v, tags

    def _decode(self, namespace: str, full: str, b: bytes) -> Any:
        c = self.config
        try:
            return envelope.decode(b, storage_key=full, keyring=c.keyring, sealed=c.sealed(namespace),
                                   max_decoded_size=c.max_decoded_size, times=self._times)
        except EnvelopeError as e:
            e.with_context("decode", namespace, full)
            raise

    def _ttl_ms(self, namespace: str, ttl: float | None) -> int:
        """TTL in ms: None or 0 mean the namespace's policy (Go's meaning,
        not "never expire"); a timedelta is taken as its seconds."""
        if isinstance(ttl, _dt.timedelta):
            ttl = ttl.total_seconds()
        if ttl is not None and ttl < 0:
            raise ValueError(f"ttl {ttl} must not be negative")
        t = ttl or self.config.ttl_for(namespace)
        return max(1, int(t * 1000))

    async def _decode_off_loop(self, namespace: str, full: str, b: bytes) -> Any:
        """Large compressed or sealed values are decoded in a thread: zstd
        and AES-GCM on 16 MiB would hold the event loop for milliseconds."""
        if len(b) > _OFF_LOOP:
            return await asyncio.to_thread(self._decode, namespace, full, b)
        return self._decode(namespace, full, b)

    # --- the core operations, key first (the old layer's shape) -------------

    async def get(self, key: str, default: Any = None, namespace: str | None = None) -> Any:
        """The value under key, or default when there is none. A value that
        is corrupt, tampered with, or of a format this reader does not know
        raises EnvelopeError: it is never served as valid."""
        ns = namespace or NAMESPACE_DEFAULT
        full = self._rc.key(ns, key)
        await self._drain()
        b = await self._rc.run("get", ns, key, self._rc.backend.get, full, route=full)
        counts = self._rc.count(ns)
        if b is None or self._pending(ns, full):
            counts.misses += 1
            return default
        try:
            v, tags = self._decode_meta(ns, full, b) if len(b) <= _OFF_LOOP else await asyncio.to_thread(self._decode_meta, ns, full, b)
        except EnvelopeError:
            counts.errors += 1
            raise
        if tags and not await self._tags_hold(tags):
            counts.misses += 1
            return default
        counts.hits += 1
        return v

    async def set(self, key: str, value: Any, ttl: float | None = None, namespace: str | None = None, *,
                  tags: Iterable[str] = (), tags_as_of: list[tuple[str, str]] | None = None) -> bool:
        """Store value under key for ttl seconds (None or 0: the
        namespace's policy). Nothing is written when the value cannot be
        encoded or is too large. tags tag it with their tokens now;
        tags_as_of with tokens read earlier (tag_tokens): invalidate_tag of
        any makes it absent, here and in Go."""
        ns = namespace or NAMESPACE_DEFAULT
        full = self._rc.key(ns, key)
        pairs = list(tags_as_of or [])
        tags = list(tags)
        if tags:
            pairs += await self.tag_tokens(tags)
        if pairs:
            b = self._encode(ns, full, value, tags=pairs)
        elif isinstance(value, (bytes, bytearray, str)) and len(value) > _OFF_LOOP:
            b = await asyncio.to_thread(self._encode, ns, full, value)  # zstd, AES-GCM: not on the loop
        else:
            b = self._encode(ns, full, value)
        ms = self._ttl_ms(ns, ttl)
        await self._drain()
        await self._settle(ns, full)
        await self._rc.run("set", ns, key, self._rc.backend.set, full, b, ms, route=full)
        self._rc.count(ns).sets += 1
        return True

    async def delete(self, key: str, namespace: str | None = None) -> bool:
        """Remove key (UNLINK); whether it existed."""
        return await self.delete_many([key], namespace=namespace) > 0

    async def delete_many(self, keys: Iterable[str], namespace: str | None = None) -> int:
        """Remove the keys (UNLINK); how many existed."""
        ns = namespace or NAMESPACE_DEFAULT
        fulls = [self._rc.key(ns, k) for k in keys]
        if not fulls:
            return 0
        await self._drain()
        n = 0
        parts = list(batches(fulls, self.config.max_batch_size))
        for i, part in enumerate(parts):
            try:
                n += await self._rc.run("delete", ns, "", self._rc.backend.delete, part)
            except _UNREACHABLE as e:
                # Queued, this batch and the ones not sent: durable invalidation.
                self._queue("key", [f for p in parts[i:] for f in p], e)
                break
        self._rc.count(ns).deletes += n
        return n

    async def exists(self, key: str, namespace: str | None = None) -> bool:
        return await self._rc.exists(key, namespace or NAMESPACE_DEFAULT)

    async def get_many(self, keys: Iterable[str], namespace: str | None = None,
                       errors: dict[str, CacheError] | None = None) -> dict[str, Any]:
        """The values of the keys that exist, by key: MGET in batches of
        CACHE_MAX_BATCH_SIZE. A value that cannot be decoded is left out and
        reported for its key (in errors, when given, and on the
        "tradecache" logger); the good values are returned."""
        ns = namespace or NAMESPACE_DEFAULT
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        if len(keys) > self.config.max_batch_keys:
            raise ValueError(f"{len(keys)} keys in one call, over CACHE_MAX_BATCH_KEYS={self.config.max_batch_keys}")
        fulls = self._rc.keys(ns, keys)
        await self._drain()
        size = self.config.max_batch_size
        parts = list(batches(fulls, size))
        if len(parts) == 1:
            vals = await self._rc.run("get_many", ns, "", self._rc.backend.mget, fulls)
        else:
            got = await asyncio.gather(*(self._rc.run("get_many", ns, "", self._rc.backend.mget, p) for p in parts))
            vals = [v for g in got for v in g]
        out, counts = {}, self._rc.count(ns)
        decode, c = envelope.decode, self.config
        sealed, ring, limit, times = c.sealed(ns), c.keyring, c.max_decoded_size, self._times
        maybe_tagged, tagged = envelope.maybe_tagged, []
        pending = self._pending
        for k, full, b in zip(keys, fulls, vals):
            if b is None or pending(ns, full):
                counts.misses += 1
                continue
            try:
                if maybe_tagged(b):
                    v, _, tags = envelope.decode_meta(b, full, ring, sealed, limit, times)
                    if tags:
                        tagged.append((k, tags))
                    out[k] = v
                    continue
                out[k] = decode(b, full, ring, sealed, limit, times)
            except EnvelopeError as e:
                counts.errors += 1
                e.with_context("get_many", ns, k)
                log.warning("tradecache: get_many: %s %s: %s (left out; the other values are returned)", ns, k, e)
                if errors is not None:
                    errors[k] = e
                continue
            counts.hits += 1
        if tagged:
            held = await asyncio.gather(*(self._tags_hold(tags) for _, tags in tagged))
            for (k, _), ok in zip(tagged, held):
                if not ok:
                    del out[k]
                    counts.hits -= 1
                    counts.misses += 1
        return out

    async def set_many(self, mapping: Mapping[str, Any], ttl: float | None = None, namespace: str | None = None, *,
                       tags: Iterable[str] = ()) -> int:
        """Store every item, pipelined in batches of CACHE_MAX_BATCH_SIZE.
        Every value is encoded first: one that cannot be leaves nothing
        written. tags tag every item, their tokens read once. Returns how
        many were stored."""
        ns = namespace or NAMESPACE_DEFAULT
        ms = self._ttl_ms(ns, ttl)
        if len(mapping) > self.config.max_batch_keys:
            raise ValueError(f"{len(mapping)} keys in one call, over CACHE_MAX_BATCH_KEYS={self.config.max_batch_keys}")
        tags = list(tags)
        pairs = await self.tag_tokens(tags) if tags else None
        encoded = []
        for k, v in mapping.items():
            full = self._rc.key(ns, k)
            encoded.append((full, self._encode(ns, full, v, tags=pairs)))
        if not encoded:
            return 0
        await self._drain()
        for full, _ in encoded:
            await self._settle(ns, full)
        await asyncio.gather(*(self._rc.run("set_many", ns, "", self._rc.backend.set_many, part, ms)
                               for part in batches(encoded, self.config.max_batch_size)))
        self._rc.count(ns).sets += len(encoded)
        return len(encoded)

    async def clear_namespace(self, namespace: str, batch: int = 1000) -> int:
        """Remove every key of the namespace: SCAN MATCH and UNLINK, never
        KEYS or FLUSHDB. The number removed."""
        if reason := check_name(namespace):
            raise InvalidKeyError(f"namespace {namespace!r}: {reason}")
        pattern = self._pattern(namespace)
        await self._drain()
        try:
            n = await self._rc.run("clear_namespace", namespace, "", self._rc.backend.scan_delete, pattern, batch)
        except _UNREACHABLE as e:
            self._queue("clear", [pattern], e)
            return 0
        self._rc.count(namespace).deletes += n
        return n

    async def touch(self, key: str, ttl: float | None = None, namespace: str | None = None, default: Any = None) -> Any:
        """The value under key, its TTL reset to ttl (GETEX), or default."""
        ns = namespace or NAMESPACE_DEFAULT
        full = self._rc.key(ns, key)
        b = await self._rc.run("touch", ns, key, self._rc.backend.getex, full, self._ttl_ms(ns, ttl), route=full)
        if b is None:
            self._rc.count(ns).misses += 1
            return default
        v = await self._decode_off_loop(ns, full, b)
        self._rc.count(ns).hits += 1
        return v

    # --- one computation per key ---------------------------------------------

    async def get_or_load(self, key: str, loader: Callable[[], Awaitable[Any]], ttl: float | None = None,
                          namespace: str | None = None, degrade: bool = True, *, tags: Iterable[str] = ()) -> Any:
        """The value under key, or loader()'s, stored; concurrent calls for
        one key in this process share one load. With degrade (the
        default), a cache that cannot be read or written does not stop the
        load: its result is returned, not cached, and the failure logged."""
        ns = namespace or NAMESPACE_DEFAULT
        full = self._rc.key(ns, key)
        missing = _MISSING
        try:
            hit = await self.get(key, default=missing, namespace=ns)
        except (RedisConnectionError, CacheTimeoutError, CacheCommandError, EnvelopeError) as e:
            if not degrade:
                raise
            log.warning("tradecache: %s %s: read failed, loading without the cache: %s", ns, key, e)
            hit = missing
        if hit is not missing:
            return hit
        fut = self._inflight.get(full)
        if fut is not None:
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._inflight[full] = fut
        tags, as_of = list(tags), None
        try:
            if tags:
                # Before the load: an invalidation while it runs makes
                # what it returns absent once stored.
                try:
                    as_of = await self.tag_tokens(tags)
                except (RedisConnectionError, CacheTimeoutError, CacheCommandError):
                    if not degrade:
                        raise
            v = await loader()
        except BaseException as e:
            self._inflight.pop(full, None)
            if not fut.done():
                fut.set_exception(e)
                fut.exception()  # retrieved: the waiters re-raise it
            raise
        self._inflight.pop(full, None)
        fut.set_result(v)
        try:
            if not tags or as_of is not None:  # a tagged value whose tokens could not be read is not cached
                await self.set(key, v, ttl=ttl, namespace=ns, tags_as_of=as_of)
        except (RedisConnectionError, CacheTimeoutError, CacheCommandError) as e:
            if not degrade:
                raise
            log.warning("tradecache: %s %s: not cached: %s", ns, key, e)
        return v

    # --- market data: the version guard ------------------------------------

    async def cache_market_data(self, symbol: str, data: Any, data_type: str = "quote", ttl: float | None = None,
                                *, seq: int | None = None) -> bool:
        """Store data for symbol only if its version is newer than what is
        stored, atomically on the server, with the Go library's script: a
        Go writer and a Python writer never overwrite a newer version.

        The version is seq; else data["seq"] when data is a dict with one;
        else its "timestamp" (or "at") in nanoseconds since 1970; else now
        in nanoseconds. One symbol's writers should use one kind of version:
        a timestamp in nanoseconds is far above any sequence number.
        Returns whether it was applied."""
        if isinstance(data, str) and data in MARKET_DATA_KINDS and isinstance(data_type, int):
            raise TypeError("cache_market_data(symbol, data, data_type='quote', ttl=None, *, seq=None): "
                            "the version is now seq= (or the data's own seq or timestamp)")
        if data_type not in MARKET_DATA_KINDS:
            raise ValueError(f"unknown market data kind {data_type!r} (want one of {', '.join(MARKET_DATA_KINDS)})")
        version = seq if seq is not None else _version_of(data)
        if not isinstance(version, int) or not 0 < version < 1 << 64:
            raise ValueError("market data needs a version (seq, or exchange timestamp) above 0 and below 2^64")
        ns = NAMESPACE_MARKET_DATA
        key = f"{symbol}:{data_type}"
        full = self._rc.key(ns, key)
        ver = keyslot.companion(full, " ver")
        if ver is None:
            raise InvalidKeyError(f"{full}: braces that form no hash tag")
        b = self._encode(ns, full, data)
        ms = self._ttl_ms(ns, ttl)
        await self._drain()
        await self._settle(ns, full)
        applied = await self._rc.run("cache_market_data", ns, key, self._rc.backend.set_if_newer, full, ver, b,
                                     f"{version:020d}", ms, route=full)
        if applied:
            self._rc.count(ns).sets += 1
        return bool(applied)

    async def get_market_data(self, symbol: str, data_type: str = "quote", default: Any = None) -> Any:
        """symbol's latest data of data_type (a dict with Go's field names
        for the Go types), or default."""
        return await self.get(f"{symbol}:{data_type}", default=default, namespace=NAMESPACE_MARKET_DATA)

    # --- portfolio and risk calculations: tags ------------------------------
    # As Go's trading.Portfolios: a calculation carries the tag of its
    # portfolio ("portfolio:<id>") and of each symbol it depends on
    # ("symbol:<sym>"), with their tokens from before it was computed;
    # invalidating a tag makes every value that carries it absent.

    async def generation(self, portfolio: str, depends_on: Iterable[str] = ()) -> str:
        """The token to compute a calculation under, read before computing
        (Go's Portfolios.Generation): the tokens of the portfolio's tag and
        of its symbols' tags, as "tag token tag token ..." text, which Go
        reads too."""
        pairs = await self.tag_tokens([portfolio_tag(portfolio)] + [symbol_tag(s) for s in depends_on])
        return " ".join(f"{t} {tok}" for t, tok in pairs)

    async def _store_calc(self, namespace: str, portfolio: str, calc: str, result: Any, ttl: Any, gen: str | None,
                          depends_on: Iterable[str]) -> bool:
        if isinstance(ttl, str):  # the older call: (portfolio, calc, result, gen)
            gen, ttl = ttl, None
        syms = list(depends_on)
        if gen is None:
            # No token read before computing: the current one, read now. A
            # change during the computation is then not seen; call
            # generation() first to be exact.
            gen = await self.generation(portfolio, syms)
        fields = gen.split()
        pairs = list(zip(fields[0::2], fields[1::2]))
        if len(fields) % 2 or portfolio_tag(portfolio) not in dict(pairs):
            raise ValueError(f"{gen!r} is not a generation of portfolio {portfolio!r}: get it from generation()")
        late = [symbol_tag(s) for s in syms if symbol_tag(s) not in dict(pairs)]
        if late:  # declared only now: their tokens as they stand
            pairs += await self.tag_tokens(late)
        return await self.set(f"{portfolio}:calc:{calc}", {"result": result, "at": _now()}, ttl=ttl,
                              namespace=namespace, tags_as_of=pairs)

    async def cache_portfolio_calculation(self, portfolio_id: str, calculation_type: str, result: Any,
                                          ttl: float | None = None, *, gen: str | None = None,
                                          depends_on: Iterable[str] = ()) -> bool:
        """Store a portfolio calculation (a Decimal, a dict of them, any
        value) computed under gen (from generation(), read before
        computing); a change of the portfolio, or of a symbol in
        depends_on, since then makes it read as missing. Go reads it with
        Portfolios (a dict as a map or struct)."""
        return await self._store_calc(NAMESPACE_PORTFOLIO, portfolio_id, calculation_type, result, ttl, gen, depends_on)

    async def cache_risk_calculation(self, portfolio_id: str, metric: str, result: Any, ttl: float | None = None, *,
                                     gen: str | None = None, depends_on: Iterable[str] = ()) -> bool:
        return await self._store_calc(NAMESPACE_RISK, portfolio_id, metric, result, ttl, gen, depends_on)

    async def _read_calc(self, namespace: str, portfolio: str, calc: str) -> Any:
        """The calculation, held to its tags by get()."""
        rec = await self.get(f"{portfolio}:calc:{calc}", namespace=namespace)
        return rec.get("result") if isinstance(rec, dict) else None

    async def get_portfolio_calculation(self, portfolio_id: str, calculation_type: str) -> Any:
        """The calculation if it is current, else None (missing, or
        computed before the portfolio or a symbol it depends on changed)."""
        return await self._read_calc(NAMESPACE_PORTFOLIO, portfolio_id, calculation_type)

    async def get_risk_calculation(self, portfolio_id: str, metric: str) -> Any:
        return await self._read_calc(NAMESPACE_RISK, portfolio_id, metric)

    async def invalidate_portfolio(self, portfolio_id: str) -> None:
        """Invalidate every calculation of the portfolio in one write."""
        await self.invalidate_tag(portfolio_tag(portfolio_id))

    async def invalidate_symbol(self, symbol: str) -> None:
        """Invalidate every calculation that depends on symbol, and every
        value tagged symbol_tag(symbol)."""
        await self.invalidate_tag(symbol_tag(symbol))

    # --- model predictions and features (Go's trading/models) ----------------
    # An entry is keyed "<name>@<version>:<entity>" and tagged
    # model_version_tag(name, version); deploy_model invalidates the
    # previous version's tag, so its entries read as absent in both
    # languages.

    @staticmethod
    def _model_names(*names: str) -> None:
        for n in names:
            if not n or any(c in n for c in "@: \t\r\n"):
                raise ValueError(f"model, feature set or version {n!r}: non-empty, without '@', ':' or whitespace")

    async def deploy_model(self, model: str, version: str) -> None:
        """Make version model's current one; the previous version's
        entries read as absent from then on (Go's Models.Deploy)."""
        self._model_names(model, version)
        prev = await self.get(model, namespace=NAMESPACE_MODELS)
        if prev == version:
            return
        await self.set(model, version, namespace=NAMESPACE_MODELS)
        if prev:
            await self.invalidate_tag(model_version_tag(model, prev))

    async def current_model_version(self, model: str) -> str | None:
        self._model_names(model)
        return await self.get(model, namespace=NAMESPACE_MODELS)

    async def put_predictions(self, model: str, version: str, predictions: Iterable[Mapping[str, Any]],
                              ttl: float | None = None) -> int:
        """Store predictions (dicts with "entity", "score", "vector" as
        array('f'), "at"), each under its entity, tagged with the version;
        Go reads them as models.Prediction."""
        self._model_names(model, version)
        items = {f"{model}@{version}:{p['entity']}": {**p, "model": model, "version": version} for p in predictions}
        return await self.set_many(items, ttl, namespace=NAMESPACE_PREDICTIONS, tags=[model_version_tag(model, version)])

    async def get_predictions(self, model: str, version: str, entities: Iterable[str]) -> dict[str, Any]:
        """The predictions of model at version for entities, by entity; an
        entity without a current one is absent."""
        self._model_names(model, version)
        got = await self.get_many([f"{model}@{version}:{e}" for e in entities], namespace=NAMESPACE_PREDICTIONS)
        return {p["entity"]: p for p in got.values() if isinstance(p, dict)}

    async def put_features(self, feature_set: str, version: str, features: Mapping[str, Any],
                           ttl: float | None = None) -> int:
        """Store feature vectors (array('f')) by entity, tagged with the
        set's version; Go reads them as models.Features."""
        self._model_names(feature_set, version)
        at = _now()
        items = {f"{feature_set}@{version}:{e}": {"entity": e, "values": v, "at": at} for e, v in features.items()}
        return await self.set_many(items, ttl, namespace=NAMESPACE_FEATURES, tags=[model_version_tag(feature_set, version)])

    async def get_features(self, feature_set: str, version: str, entities: Iterable[str]) -> dict[str, Any]:
        """The feature vectors of entities (array('f')), by entity; one
        without current features is absent."""
        self._model_names(feature_set, version)
        got = await self.get_many([f"{feature_set}@{version}:{e}" for e in entities], namespace=NAMESPACE_FEATURES)
        return {f["entity"]: f["values"] for f in got.values() if isinstance(f, dict)}

    # --- sessions: TTL extended on use ---------------------------------------

    async def cache_user_session(self, session_id: str, data: Any, ttl: float | None = None) -> bool:
        """Store a session for ttl seconds (None: CACHE_SESSION_TTL). Sealed
        when CACHE_ENCRYPTION_KEYS is set, as in Go."""
        return await self.set(session_id, data, ttl=ttl, namespace=NAMESPACE_SESSION)

    async def get_user_session(self, session_id: str, extend_ttl: bool = True, ttl: float | None = None) -> Any:
        """The session, or None; with extend_ttl its TTL starts again
        (GETEX, one round trip), as Go's Sessions.Touch."""
        if extend_ttl:
            return await self.touch(session_id, ttl=ttl, namespace=NAMESPACE_SESSION)
        return await self.get(session_id, namespace=NAMESPACE_SESSION)

    async def extend_user_session(self, session_id: str, ttl: float | None = None) -> bool:
        """Start the session's TTL again; whether it exists."""
        return await self.touch(session_id, ttl=ttl, namespace=NAMESPACE_SESSION, default=_MISSING) is not _MISSING

    async def invalidate_user_session(self, session_id: str) -> bool:
        return await self.delete(session_id, namespace=NAMESPACE_SESSION)

    # --- figures -------------------------------------------------------------

    async def get_stats(self) -> dict[str, Any]:
        """This process's figures, as the old layer's get_stats:
        "cache_manager" (hits, misses, sets, deletes, errors, hit_rate,
        error_rate, total_operations, avg/p50/p95/p99 latency in ms),
        "operations" (per operation), "namespaces", "circuit_breaker", and
        "redis" (the server's INFO: connected_clients, used_memory_human,
        ...; {"error": ...} when it cannot be read)."""
        st = self._rc.stats()
        st["invalidations"] = self._inval.stats()
        try:
            st["redis"] = await self._rc.run("info", NAMESPACE_DEFAULT, "", self._rc.backend.info)
        except CacheError as e:
            st["redis"] = {"error": str(e)}
        return st

    async def health_check(self) -> dict[str, Any]:
        """PING, past the breaker (a probe must reach Redis even while it is
        open), with its latency; a success makes an open breaker half-open
        at once. healthy is false, with the error, when Redis does not
        answer within the operation timeout."""
        t0 = time.perf_counter()
        try:
            await self._rc.backend.ping()
        except Exception as e:  # any failure is "not healthy", said with its reason
            err = classify(e)[0] if not isinstance(e, CacheError) else e
            if isinstance(err, CacheAuthError) and self.breaker.state != "closed":
                self.breaker.cause = err  # what the open breaker's errors name: waiting will not mend it
            return {"healthy": False, "error": f"{type(err).__name__}: {err}", "ping_latency_ns": None,
                    "breaker": self.breaker.state, "backend": self._rc.kind}
        for b in self._rc.breakers():
            b.probe_succeeded()
        return {"healthy": True, "error": "", "ping_latency_ns": int((time.perf_counter() - t0) * 1e9),
                "breaker": self.breaker.state, "backend": self._rc.kind}


class Namespace:
    """One namespace of a CacheManager (cache.ns("risk")): the core calls
    without namespace=, as Go's Namespace."""

    def __init__(self, cache: CacheManager, name: str):
        self.cache, self.name = cache, name

    async def get(self, key: str, default: Any = None) -> Any:
        return await self.cache.get(key, default, namespace=self.name)

    async def set(self, key: str, value: Any, ttl: float | None = None, **tags: Any) -> bool:
        """tags= and tags_as_of= as CacheManager.set takes them."""
        return await self.cache.set(key, value, ttl, namespace=self.name, **tags)

    async def get_many(self, keys: Iterable[str], errors: dict[str, CacheError] | None = None) -> dict[str, Any]:
        return await self.cache.get_many(keys, namespace=self.name, errors=errors)

    async def set_many(self, mapping: Mapping[str, Any], ttl: float | None = None) -> int:
        return await self.cache.set_many(mapping, ttl, namespace=self.name)

    async def delete(self, *keys: str) -> int:
        return await self.cache.delete_many(keys, namespace=self.name)

    async def exists(self, key: str) -> bool:
        return await self.cache.exists(key, namespace=self.name)

    async def touch(self, key: str, ttl: float | None = None, default: Any = None) -> Any:
        return await self.cache.touch(key, ttl, namespace=self.name, default=default)

    async def clear(self) -> int:
        return await self.cache.clear_namespace(self.name)

    async def get_or_load(self, key: str, loader: Callable[[], Awaitable[Any]], ttl: float | None = None,
                          *, tags: Iterable[str] = ()) -> Any:
        return await self.cache.get_or_load(key, loader, ttl, namespace=self.name, tags=tags)

    def key(self, key: str) -> str:
        return self.cache.key(self.name, key)


_MISSING: Any = object()


def _version_of(data: Any) -> int | None:
    if isinstance(data, Mapping):
        s = data.get("seq")
        if isinstance(s, int) and not isinstance(s, bool) and s > 0:
            return s
        for f in ("timestamp", "at", "ts"):
            t = data.get(f)
            if isinstance(t, _dt.datetime):
                tc = TcTime.from_datetime(t)
                return tc.seconds * 10**9 + tc.nanos
            if isinstance(t, TcTime):
                return t.seconds * 10**9 + t.nanos
    return time.time_ns()


def _escape_glob(s: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\^" else ch for ch in s)


def _now() -> TcTime:
    ns = time.time_ns()
    return TcTime(ns // 10**9, ns % 10**9)
