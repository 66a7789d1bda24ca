"""Caching decorators, as the layer tradecache replaced had them:

    @cache_market_data(ttl=60)
    async def fetch_stock_price(symbol: str): ...

    @cache_result(ttl=300, namespace="portfolio")
    async def calculate_portfolio_value(portfolio_id: str): ...

They degrade: with Redis down (or the breaker open, or a call timing
out) the function runs and its result is returned, not cached, and nothing
is raised. Concurrent cold calls with the same arguments in one process
run the function once. Keys are stable across processes and instances:
the function's module and qualified name, and a hash of its arguments'
canonical encoding (never repr(), whose memory addresses differ per
process); a method's self or cls is left out.

Without cache_manager=, a decorator uses the process's CacheManager
(get_cache_manager(): configured from the environment on first use; set
your own with set_cache_manager()).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
from typing import Any, Awaitable, Callable, TypeVar

from . import envelope
from .cache import CacheManager
from .config import NAMESPACE_DEFAULT, NAMESPACE_MARKET_DATA
from .errors import SerializationError

log = logging.getLogger("tradecache")

T = TypeVar("T")

_manager: CacheManager | None = None


def get_cache_manager() -> CacheManager:
    """The process's CacheManager, made from the environment on first use."""
    global _manager
    if _manager is None:
        _manager = CacheManager()
    return _manager


def set_cache_manager(manager: CacheManager | None) -> None:
    """Make manager the one decorators use when given none."""
    global _manager
    _manager = manager


def memo_key(fn: Callable[..., Any], args: tuple, kwargs: dict, skip_first: bool = False) -> str:
    """The key of a call: "<module>.<qualname>:<32 hex digits>", the
    digits of SHA-256 over the canonical MessagePack of the arguments (a
    method's self or cls left out). The same arguments give the same key in
    every process. An argument the envelope cannot encode raises
    SerializationError: give the decorator a key_builder."""
    if skip_first:
        args = args[1:]
    try:
        payload = envelope.pack([list(args), {k: kwargs[k] for k in sorted(kwargs)}])
    except (TypeError, ValueError) as e:
        raise SerializationError(f"{fn.__qualname__}: its arguments have no stable key ({e}): "
                                 "give the decorator key_builder=") from e
    return f"{fn.__module__}.{fn.__qualname__}:{hashlib.sha256(payload).hexdigest()[:32]}"


def _is_method(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0] in ("self", "cls") and "." in fn.__qualname__


def cache_result(ttl: float | None = None, namespace: str = NAMESPACE_DEFAULT,
                 key_builder: Callable[..., str] | None = None, cache_manager: CacheManager | None = None):
    """Cache an async function's results in namespace for ttl seconds
    (None: the namespace's policy). key_builder(*args, **kwargs), when
    given, makes the key. A miss runs the function once per key however
    many callers wait, and stores what it returns (None included)."""

    def decorate(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn.__qualname__}: cache_result decorates async functions")
        skip = _is_method(fn)

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> T:
            cache = cache_manager or get_cache_manager()
            k = key_builder(*args, **kwargs) if key_builder is not None else memo_key(fn, args, kwargs, skip)
            return await cache.get_or_load(k, lambda: fn(*args, **kwargs), ttl=ttl, namespace=namespace)

        wrapper.cache_key = lambda *a, **kw: (key_builder(*a, **kw) if key_builder  # type: ignore[attr-defined]
                                              else memo_key(fn, a, kw, skip))
        return wrapper

    return decorate


def cache_market_data(ttl: float | None = None, data_type: str = "quote",
                      cache_manager: CacheManager | None = None):
    """cache_result in the market_data namespace, with its TTL policy
    (CACHE_MARKET_DATA_TTL) unless ttl is given. Keys are the function's
    and its arguments' (data_type names the kind for the key), apart from
    the version-guarded keys cache_manager.cache_market_data writes."""

    def decorate(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        skip = _is_method(fn)

        def key(*args: Any, **kwargs: Any) -> str:
            return f"{memo_key(fn, args, kwargs, skip)}:{data_type}"

        return cache_result(ttl=ttl, namespace=NAMESPACE_MARKET_DATA, key_builder=key,
                            cache_manager=cache_manager)(fn)

    return decorate


def cached(cache: CacheManager, namespace: str = NAMESPACE_DEFAULT, ttl: float | None = None,
           key: Callable[..., str] | None = None):
    """cache_result with the CacheManager first: @cached(cache, "risk")."""
    return cache_result(ttl=ttl, namespace=namespace, key_builder=key, cache_manager=cache)
