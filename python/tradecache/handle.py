"""Typed handles: one namespace, one type, as Go's tradecache.Of[T].

    quotes = cache.of(Quote, "market_data")     # Quote: a dataclass
    await quotes.set("AAPL:quote", Quote("AAPL", Decimal("150.00"), ...))
    q = await quotes.get("AAPL:quote")          # a Quote, or None
    book = await quotes.get_many(keys)           # {key: Quote}

A dataclass is stored as the map of its fields, under their names (or the
name in field(metadata={"tradecache": "bid_size"})), which is how Go stores
a struct: a Go service reading the same key with its own struct gets the
same fields. Fields that are dataclasses nest the same way. Any other type
(dict, list, str, Decimal, ...) is stored as it is and checked on the way
back. A stored value that does not fit the type raises SerializationError,
as the Go side's typed read fails with a *SerializationError.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Awaitable, Callable, Generic, Iterable, Mapping, TypeVar

from .errors import CacheError, SerializationError

T = TypeVar("T")


def _wire_name(f: dataclasses.Field) -> str:
    return f.metadata.get("tradecache", f.name)


def _hints(typ: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(typ)
    except Exception:  # unresolvable annotations: no nesting
        return {}


def to_wire(value: Any) -> Any:
    """value as it is stored: a dataclass as the map of its fields."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {_wire_name(f): to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def from_wire(typ: Any, data: Any) -> Any:
    """data, as decoded, made a typ; SerializationError when it does not fit."""
    if isinstance(typ, type) and dataclasses.is_dataclass(typ):
        if not isinstance(data, Mapping):
            raise SerializationError(f"a stored {type(data).__name__} is not a {typ.__name__}")
        hints = _hints(typ)
        kwargs = {}
        for f in dataclasses.fields(typ):
            name = _wire_name(f)
            if name in data:
                kwargs[f.name] = from_wire(hints.get(f.name, Any), data[name])
        try:
            return typ(**kwargs)
        except TypeError as e:
            raise SerializationError(f"a stored value is not a {typ.__name__}: {e}") from None
    if isinstance(typ, type) and typ is not Any and not isinstance(data, typ):
        raise SerializationError(f"a stored {type(data).__name__} is not a {typ.__name__}")
    return data


class Handle(Generic[T]):
    """One namespace of a CacheManager read and written as values of one
    type (cache.of(Type, namespace)); the calls go through the namespace's,
    with the same keys, policies and breaker."""

    def __init__(self, ns: Any, typ: type[T]):
        self.ns, self.type = ns, typ

    async def get(self, key: str) -> T | None:
        """The value under key, or None when there is none."""
        data = await self.ns.get(key)
        return None if data is None else from_wire(self.type, data)

    async def get_many(self, keys: Iterable[str], errors: dict[str, CacheError] | None = None) -> dict[str, T]:
        """The values found, by key; missing keys are left out."""
        return {k: from_wire(self.type, v) for k, v in (await self.ns.get_many(keys, errors)).items()}

    async def set(self, key: str, value: T, ttl: float | None = None) -> bool:
        return await self.ns.set(key, to_wire(self._check(value)), ttl)

    async def set_many(self, mapping: Mapping[str, T], ttl: float | None = None) -> int:
        return await self.ns.set_many({k: to_wire(self._check(v)) for k, v in mapping.items()}, ttl)

    async def delete(self, *keys: str) -> int:
        return await self.ns.delete(*keys)

    async def get_or_load(self, key: str, loader: Callable[[], Awaitable[T]], ttl: float | None = None) -> T:
        """The value under key, or loader's, stored for the next caller."""
        async def load() -> Any:
            return to_wire(self._check(await loader()))
        return from_wire(self.type, await self.ns.get_or_load(key, load, ttl))

    def _check(self, value: Any) -> Any:
        if isinstance(self.type, type) and not isinstance(value, self.type):
            raise SerializationError(f"a {type(value).__name__} given to a handle of {self.type.__name__}")
        return value
