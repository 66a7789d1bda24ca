"""An asyncio cache over Redis that shares keys, envelopes, TTL policies,
the market-data version guard and the portfolio generation tokens with the
Go library: a Go service and a Python service read each other's values.

Names follow the Python layer tradecache replaced: CacheManager with get,
set, get_many, set_many, delete, exists and clear_namespace;
cache_market_data and get_market_data; cache_portfolio_calculation and
cache_risk_calculation; the @cached decorator; get_stats and health_check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import decimal
import functools
import hashlib
import os
import secrets
import time
from typing import Any, Awaitable, Callable, Iterable, Mapping, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import envelope, keyslot
from .config import (NAMESPACE_DEFAULT, NAMESPACE_MARKET_DATA, NAMESPACE_PORTFOLIO, NAMESPACE_RISK, Config,
                     check_key, check_name)
from .envelope import EnvelopeError, Stamp, TcTime

MARKET_DATA_KINDS = ("quote", "trade", "bar", "book")
GENERATION_TTL = 7 * 24 * 3600.0  # generation tokens outlive any calculation

# The Go store's script, character for character, so that both languages
# run one script (one SHA): the version is compared as a 20-digit
# zero-padded string, so any uint64 compares exactly (Lua numbers are
# doubles), and the value and its version are written in one atomic step.
SET_IF_NEWER = """
local cur = redis.call("GET", KEYS[2])
if cur and cur >= ARGV[2] then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[3])
redis.call("SET", KEYS[2], ARGV[2], "PX", ARGV[3])
return 1"""


class CacheError(Exception):
    """Base of the errors the cache raises."""


class InvalidKeyError(CacheError, ValueError):
    """A key or namespace outside the grammar; nothing was sent."""


class CacheUnavailable(CacheError):
    """Redis did not answer: a connection error or a timeout."""


class ValueTooLarge(CacheError, ValueError):
    """An encoded value over max_value_bytes; nothing was written."""


@dataclasses.dataclass
class _Counts:
    hits: int = 0
    misses: int = 0
    sets: int = 0
    deletes: int = 0
    errors: int = 0


def _escape_glob(s: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\^" else ch for ch in s)


T = TypeVar("T")


class CacheManager:
    """The cache. Create it with CacheManager(config) or from_env(), use it
    as an async context manager (or call close()). Every operation takes a
    namespace; values are anything the envelope encodes: None, bool, int,
    float, str, bytes, decimal.Decimal, TcTime or an aware datetime, and
    lists and dicts of those."""

    def __init__(self, config: Config | None = None, client: aioredis.Redis | None = None):
        self.config = config or Config()
        self.config.validate()
        if client is None:
            kw = self.config.redis_kwargs()
            url = kw.pop("url", None)
            client = aioredis.from_url(url, **kw) if url else aioredis.Redis(**kw)
        self.redis = client
        self._set_if_newer = client.register_script(SET_IF_NEWER)
        self._counts: dict[str, _Counts] = {}
        self._started = time.time()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "CacheManager":
        return cls(Config.from_env(environ))

    async def __aenter__(self) -> "CacheManager":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        await self.redis.close()
        pool = getattr(self.redis, "connection_pool", None)
        if pool is not None:
            await pool.disconnect()

    # --- keys and envelopes --------------------------------------------------

    def key(self, namespace: str, key: str) -> str:
        """The Redis key: "<prefix>:<namespace>:<key>", as in Go."""
        if reason := check_name(namespace):
            raise InvalidKeyError(f"namespace {namespace!r}: {reason}")
        if reason := check_key(key, self.config.max_key_length):
            raise InvalidKeyError(f"key {key!r}: {reason}")
        return f"{self.config.key_prefix}:{namespace}:{key}"

    def _encode(self, namespace: str, full: str, value: Any, stamp: Stamp | None = None) -> bytes:
        c = self.config
        b = envelope.encode(value, storage_key=full, compression=c.compression,
                            compress_threshold=c.compress_threshold, keyring=c.keyring,
                            seal=c.sealed(namespace), stamp=stamp)
        if len(b) > c.max_value_bytes:
            raise ValueTooLarge(f"{full}: {len(b)} bytes encoded, over {c.max_value_bytes}")
        return b

    def _decode(self, namespace: str, full: str, b: bytes) -> Any:
        return envelope.decode(b, storage_key=full, keyring=self.config.keyring, sealed=self.config.sealed(namespace))

    def _ttl_ms(self, namespace: str, ttl: float | None) -> int:
        t = self.config.ttl_for(namespace) if ttl is None else ttl
        if t < 0:
            raise ValueError(f"ttl {t} must not be negative")
        return max(1, int(t * 1000)) if t > 0 else 0

    def _count(self, namespace: str) -> _Counts:
        c = self._counts.get(namespace)
        if c is None:
            c = self._counts[namespace] = _Counts()
        return c

    async def _call(self, namespace: str, coro: Awaitable[T]) -> T:
        try:
            return await coro
        except (RedisConnectionError, RedisTimeoutError, asyncio.TimeoutError, OSError) as e:
            self._count(namespace).errors += 1
            raise CacheUnavailable(f"redis: {e}") from e
        except RedisError:
            self._count(namespace).errors += 1
            raise

    # --- the core operations -------------------------------------------------

    async def get(self, namespace: str, key: str, default: Any = None) -> Any:
        """The value under key, or default when there is none. A value that
        is corrupt, tampered with, or of a format this reader does not know
        raises EnvelopeError: it is never served as valid."""
        full = self.key(namespace, key)
        b = await self._call(namespace, self.redis.get(full))
        counts = self._count(namespace)
        if b is None:
            counts.misses += 1
            return default
        try:
            v = self._decode(namespace, full, b)
        except EnvelopeError:
            counts.errors += 1
            raise
        counts.hits += 1
        return v

    async def set(self, namespace: str, key: str, value: Any, ttl: float | None = None) -> bool:
        """Store value under key for ttl seconds (None: the namespace's
        policy; 0: no expiry)."""
        full = self.key(namespace, key)
        b = self._encode(namespace, full, value)
        ms = self._ttl_ms(namespace, ttl)
        await self._call(namespace, self.redis.set(full, b, px=ms or None))
        self._count(namespace).sets += 1
        return True

    async def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, Any]:
        """The values of the keys that exist, by key, in one MGET."""
        keys = list(keys)
        if not keys:
            return {}
        fulls = [self.key(namespace, k) for k in keys]
        vals = await self._call(namespace, self.redis.mget(fulls))
        out, counts = {}, self._count(namespace)
        for k, full, b in zip(keys, fulls, vals):
            if b is None:
                counts.misses += 1
                continue
            try:
                out[k] = self._decode(namespace, full, b)
            except EnvelopeError:
                counts.errors += 1
                raise
            counts.hits += 1
        return out

    async def set_many(self, namespace: str, items: Mapping[str, Any], ttl: float | None = None) -> int:
        """Store every item in one pipelined round trip. Every value is
        encoded first: one that cannot be leaves nothing written."""
        ms = self._ttl_ms(namespace, ttl)
        encoded = [(self.key(namespace, k), v) for k, v in items.items()]
        encoded = [(full, self._encode(namespace, full, v)) for full, v in encoded]
        if not encoded:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for full, b in encoded:
            pipe.set(full, b, px=ms or None)
        await self._call(namespace, pipe.execute())
        self._count(namespace).sets += len(encoded)
        return len(encoded)

    async def delete(self, namespace: str, *keys: str) -> int:
        """Remove the keys (UNLINK); the number that existed."""
        if not keys:
            return 0
        n = await self._call(namespace, self.redis.unlink(*[self.key(namespace, k) for k in keys]))
        self._count(namespace).deletes += n
        return n

    async def exists(self, namespace: str, key: str) -> bool:
        return bool(await self._call(namespace, self.redis.exists(self.key(namespace, key))))

    async def clear_namespace(self, namespace: str, batch: int = 1000) -> int:
        """Remove every key of the namespace: SCAN MATCH and UNLINK, never
        KEYS or FLUSHDB. The number removed."""
        if reason := check_name(namespace):
            raise InvalidKeyError(f"namespace {namespace!r}: {reason}")
        pattern = _escape_glob(f"{self.config.key_prefix}:{namespace}:") + "*"
        removed, cursor = 0, 0
        while True:
            cursor, keys = await self._call(namespace, self.redis.scan(cursor, match=pattern, count=batch))
            if keys:
                removed += await self._call(namespace, self.redis.unlink(*keys))
            if cursor == 0:
                return removed

    # --- market data: the version guard ------------------------------------

    async def cache_market_data(self, symbol: str, kind: str, seq: int, data: Any, ttl: float | None = None) -> bool:
        """Store data for symbol only if seq is newer than what is stored,
        atomically on the server, with the Go library's script: a Go writer
        and a Python writer never overwrite a newer version. Returns
        whether it was applied."""
        if kind not in MARKET_DATA_KINDS:
            raise ValueError(f"unknown market data kind {kind!r} (want one of {', '.join(MARKET_DATA_KINDS)})")
        if not 0 < seq < 1 << 64:
            raise ValueError("market data needs a sequence number (or exchange timestamp) above 0 and below 2^64")
        ns = NAMESPACE_MARKET_DATA
        full = self.key(ns, f"{symbol}:{kind}")
        ver = keyslot.companion(full, " ver")
        if ver is None:
            raise InvalidKeyError(f"{full}: braces that form no hash tag")
        b = self._encode(ns, full, data)
        ms = self._ttl_ms(ns, ttl) or int(self.config.ttl_for(ns) * 1000) or 1
        applied = await self._call(ns, self._set_if_newer(keys=[full, ver], args=[b, f"{seq:020d}", ms]))
        if applied:
            self._count(ns).sets += 1
        return bool(applied)

    async def get_market_data(self, symbol: str, kind: str = "quote") -> Any:
        """symbol's latest data of kind (a dict with Go's field names for
        the Go types), or None."""
        return await self.get(NAMESPACE_MARKET_DATA, f"{symbol}:{kind}")

    # --- portfolio and risk calculations: generation tokens -----------------

    async def _current_gen(self, key: str) -> str:
        rec = await self.get(NAMESPACE_PORTFOLIO, key)
        if isinstance(rec, dict) and rec.get("gen"):
            return rec["gen"]
        tok = secrets.token_hex(12)
        await self.set(NAMESPACE_PORTFOLIO, key, {"gen": tok, "result": decimal.Decimal(0), "at": _now()},
                       ttl=GENERATION_TTL)
        return tok

    async def generation(self, portfolio: str, depends_on: Iterable[str] = ()) -> str:
        """The token to compute a calculation under, read before computing
        (Go's Portfolios.Generation): the portfolio's generation and those
        of the symbols it depends on."""
        parts = [await self._current_gen(f"{portfolio}:gen")]
        for s in depends_on:
            parts += [s, await self._current_gen(f"sym:{s}:gen")]
        return " ".join(parts)

    async def _store_calc(self, namespace: str, portfolio: str, calc: str, result: decimal.Decimal, token: str,
                          depends_on: Iterable[str]) -> None:
        fields = token.split()
        if not fields:
            raise ValueError("an empty generation token: get one from generation() before computing")
        rec: dict[str, Any] = {"gen": fields[0], "result": decimal.Decimal(result), "at": _now()}
        sym_gens = dict(zip(fields[1::2], fields[2::2]))
        for s in depends_on:
            if s not in sym_gens:
                sym_gens[s] = await self._current_gen(f"sym:{s}:gen")
        if sym_gens:
            rec["symbol_gens"] = sym_gens
        await self.set(namespace, f"{portfolio}:calc:{calc}", rec)

    async def cache_portfolio_calculation(self, portfolio: str, calc: str, result: decimal.Decimal, gen: str,
                                          depends_on: Iterable[str] = ()) -> None:
        """Store a portfolio calculation computed under gen (from
        generation()); a change since then makes it read as missing."""
        await self._store_calc(NAMESPACE_PORTFOLIO, portfolio, calc, result, gen, depends_on)

    async def cache_risk_calculation(self, portfolio: str, metric: str, result: decimal.Decimal, gen: str,
                                     depends_on: Iterable[str] = ()) -> None:
        await self._store_calc(NAMESPACE_RISK, portfolio, metric, result, gen, depends_on)

    async def _read_calc(self, namespace: str, portfolio: str, calc: str) -> decimal.Decimal | None:
        gen_rec = await self.get(NAMESPACE_PORTFOLIO, f"{portfolio}:gen")
        rec = await self.get(namespace, f"{portfolio}:calc:{calc}")
        if not isinstance(rec, dict) or not isinstance(gen_rec, dict):
            return None
        if not gen_rec.get("gen") or rec.get("gen") != gen_rec.get("gen"):
            return None
        for s, g in (rec.get("symbol_gens") or {}).items():
            cur = await self.get(NAMESPACE_PORTFOLIO, f"sym:{s}:gen")
            if not isinstance(cur, dict) or cur.get("gen") != g:
                return None
        return rec.get("result")

    async def get_portfolio_calculation(self, portfolio: str, calc: str) -> decimal.Decimal | None:
        """The calculation if it is current, else None (missing, or
        computed before the portfolio or a symbol it depends on changed)."""
        return await self._read_calc(NAMESPACE_PORTFOLIO, portfolio, calc)

    async def get_risk_calculation(self, portfolio: str, metric: str) -> decimal.Decimal | None:
        return await self._read_calc(NAMESPACE_RISK, portfolio, metric)

    async def invalidate_portfolio(self, portfolio: str) -> None:
        """Invalidate every calculation of the portfolio in one write."""
        await self.set(NAMESPACE_PORTFOLIO, f"{portfolio}:gen",
                       {"gen": secrets.token_hex(12), "result": decimal.Decimal(0), "at": _now()}, ttl=GENERATION_TTL)

    async def invalidate_symbol(self, symbol: str) -> None:
        """Invalidate every calculation that depends on symbol."""
        await self.set(NAMESPACE_PORTFOLIO, f"sym:{symbol}:gen",
                       {"gen": secrets.token_hex(12), "result": decimal.Decimal(0), "at": _now()}, ttl=GENERATION_TTL)

    # --- figures -------------------------------------------------------------

    def get_stats(self) -> dict[str, Any]:
        """This process's counts, in all and per namespace, with hit rates."""
        def rate(c: _Counts) -> float:
            return c.hits / (c.hits + c.misses) if c.hits + c.misses else 0.0

        total = _Counts()
        per_ns = {}
        for name, c in sorted(self._counts.items()):
            for f in dataclasses.fields(c):
                setattr(total, f.name, getattr(total, f.name) + getattr(c, f.name))
            per_ns[name] = {**dataclasses.asdict(c), "hit_rate": rate(c)}
        return {**dataclasses.asdict(total), "hit_rate": rate(total), "namespaces": per_ns,
                "uptime_seconds": time.time() - self._started, "key_prefix": self.config.key_prefix}

    async def health_check(self) -> dict[str, Any]:
        """PING with its latency; healthy false (with the error) when Redis
        does not answer within the operation timeout."""
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(self.redis.ping(), timeout=max(self.config.op_timeout, 0.001) * 10)
        except Exception as e:  # any failure is "not healthy", said with its reason
            return {"healthy": False, "error": f"{type(e).__name__}: {e}", "ping_latency_ns": None}
        return {"healthy": True, "error": "", "ping_latency_ns": int((time.perf_counter() - t0) * 1e9)}


def _now() -> TcTime:
    ns = time.time_ns()
    return TcTime(ns // 10**9, ns % 10**9)


def cached(cache: CacheManager, namespace: str = NAMESPACE_DEFAULT, ttl: float | None = None,
           key: Callable[..., str] | None = None):
    """Cache an async function's results: the key is key(*args, **kwargs),
    or the function's qualified name and a hash of its arguments. A miss
    calls the function and stores what it returns (None included)."""

    def decorate(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        @functools.wraps(fn)
        async def wrapper(*args, **kwargs) -> T:
            if key is not None:
                k = key(*args, **kwargs)
            else:
                digest = hashlib.sha256(repr((args, sorted(kwargs.items()))).encode()).hexdigest()[:32]
                k = f"{fn.__module__}.{fn.__qualname__}:{digest}"
            missing = object()
            hit = await cache.get(namespace, k, default=missing)
            if hit is not missing:
                return hit
            v = await fn(*args, **kwargs)
            await cache.set(namespace, k, v, ttl=ttl)
            return v

        return wrapper

    return decorate
