"""The real-time feed from Python: trading/feed's Subscribe, on the same
keys, entries and rules, so that a Python service (a model, a dashboard)
follows the quotes a Go publisher writes.

    async with CacheManager() as cache:
        async with Feed(cache).subscribe(["AAPL", "MSFT"]) as updates:
            async for u in updates:
                print(u.symbol, u.quote["bid"], u.version)

A subscription yields each symbol's current quote (Update.snapshot), then
every later update, in version order per symbol, with no gap and no
duplicate. It reads each symbol's value, version key and the stream's last
entry ID in one script (the Go library's), then the stream after that ID.
Each entry names the one before it (its field p); an entry whose p is not
the one delivered before it means the stream was trimmed past this
subscriber (or lost its tail in a failover), and the symbol is read again
from a snapshot (Update.resync). An entry whose version is unreadable, is
not its quote's seq, or does not rise (one planted with a raw XADD) is
refused: on_error receives a BadEntryError, the symbol is read again from a
snapshot, and the genuine updates after it are delivered. A failed read goes
to on_error too, and is retried from the last update delivered, after 100 ms
doubling to 2 s. Memory is bounded: the readers wait while `buffer` updates
wait for the consumer.

See docs/feed.md for the keys and the guarantees, which are Go's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterable

from . import keyslot
from .backend import MemoryBackend
from .config import NAMESPACE_MARKET_DATA
from .errors import BadEntryError, CacheConfigurationError, CacheError, InvalidKeyError, NoStreamsError

if TYPE_CHECKING:
    from .cache import CacheManager

log = logging.getLogger("tradecache.feed")

_DONE = object()  # a reader's failure, on the queue


@dataclasses.dataclass
class Update:
    """One quote delivered by a subscription."""

    symbol: str
    quote: Any  # the quote as get_market_data returns it: a dict with Go's field names
    version: int
    id: str  # the stream entry's ID; for a snapshot, the stream's last ID when it was read ("" for none)
    snapshot: bool = False  # the value read at subscription, or at a resync
    resync: bool = False  # read again because the subscriber fell behind the retained window
    lag: float = 0.0  # seconds from the entry's append (server clock) to its delivery (this process's)


@dataclasses.dataclass
class _Cursor:
    id: str = ""  # the last entry delivered, or the snapshot's last ID
    ver: int = 0


@dataclasses.dataclass
class _Group:
    """Symbols one read covers (one hash slot on a cluster)."""

    symbols: list[str]
    keys: list[str]  # the values' Redis keys
    vers: list[str]
    streams: list[str]
    cur: list[_Cursor]


class Feed:
    """Subscriptions to trading/feed's quote streams.

    block: how long a read waits on the server for an entry (below the
    batch timeout, which bounds it on the socket). count: entries per
    stream per read. readers: concurrent reads (on a cluster, one per hash
    slot group up to this many). buffer: updates waiting for the consumer
    before the readers wait. on_error: receives each failed read and each
    refused entry (default: logged at WARNING); the subscription goes on.
    """

    def __init__(self, cache: "CacheManager", *, block: float = 0.2, count: int = 100, readers: int = 4,
                 buffer: int = 1024, retry: float = 0.1, on_error: Callable[[CacheError], None] | None = None):
        bound = cache.config.batch_timeout
        if not 0 < block < bound:
            raise CacheConfigurationError(f"feed block {block}s must be above 0 and below the batch timeout ({bound}s)")
        for name, v in (("count", count), ("readers", readers), ("buffer", buffer)):
            if not isinstance(v, int) or v < 1:
                raise CacheConfigurationError(f"feed {name} {v!r} must be a positive integer")
        if not retry > 0:
            raise CacheConfigurationError(f"feed retry {retry}s must be above 0")
        self._cache = cache
        self._block_ms = max(1, int(block * 1000))
        self._count, self._readers, self._buffer, self._retry = count, readers, buffer, retry
        self._on_error = on_error or (lambda e: log.warning("tradecache feed: %s", e))
        self.delivered = self.refused = self.resyncs = 0

    def stats(self) -> dict[str, int]:
        """Entries and snapshots delivered, entries refused, resyncs."""
        return {"delivered": self.delivered, "refused": self.refused, "resyncs": self.resyncs}

    def _keys(self, symbol: str) -> tuple[str, str, str]:
        full = self._cache.key(NAMESPACE_MARKET_DATA, f"{symbol}:quote")
        ver, stream = keyslot.companion(full, " ver"), keyslot.companion(full, " stream")
        if ver is None or stream is None:
            raise InvalidKeyError(f"{full}: braces that form no hash tag")
        return full, ver, stream

    def _groups(self, symbols: list[str]) -> list[_Group]:
        by: dict[int, _Group] = {}
        cluster = getattr(self._cache._rc.backend, "kind", "") == "cluster"
        for s in symbols:
            full, ver, stream = self._keys(s)
            g = by.setdefault(keyslot.slot(full) if cluster else 0, _Group([], [], [], [], []))
            g.symbols.append(s)
            g.keys.append(full)
            g.vers.append(ver)
            g.streams.append(stream)
            g.cur.append(_Cursor())
        return list(by.values())

    def subscribe(self, symbols: Iterable[str]) -> "Subscription":
        """Each symbol's current quote, then every later update (see the
        module's doc), as an async iterator. Every key is checked here,
        before anything is read. The subscription ends when the block of
        `async with feed.subscribe(...) as updates` is left, on aclose(),
        or when the iterator is dropped (a loop left with break)."""
        symbols = list(dict.fromkeys(symbols))
        if not symbols:
            raise ValueError("subscribe needs at least one symbol")
        if isinstance(self._cache._rc.backend, MemoryBackend):
            raise NoStreamsError("the in-memory backend keeps no streams: subscribe needs Redis")
        return Subscription(self, self._groups(symbols))

    async def _read(self, groups: list[_Group], q: asyncio.Queue, stop: list[bool]) -> None:
        """One reader: snapshots, then reads after each symbol's cursor
        until cancelled, or until stop[0] is set: redis-py 4.3.4 can
        swallow a cancellation that lands in a read, and the loop then ends
        when that read returns."""
        try:
            r = _Reader(self, q, stop)
            for g in groups:
                for i in range(len(g.symbols)):
                    await r.snapshot(g, i, False)
            rot = 0
            while not stop[0]:
                got = False
                for g in groups:
                    got = await r.read(g, self._block_ms if len(groups) == 1 else 0) or got
                if not got and len(groups) > 1:
                    # Nothing anywhere: wait on one group, in rotation.
                    await r.read(groups[rot % len(groups)], self._block_ms)
                    rot += 1
        except Exception:
            # Only an error this code did not expect ends a reader on its
            # own: the consumer hears of it after what is queued before it.
            await q.put(_DONE)
            raise


def _cancel(tasks: list[asyncio.Task], stop: list[bool]) -> None:
    stop[0] = True
    for t in tasks:
        t.cancel()


class Subscription:
    """A running subscription (Feed.subscribe): an async iterator of
    Update, and an async context manager that ends it. Its readers start
    on the first iteration and hold no reference to it, so that dropping
    it (leaving a loop with break) cancels them."""

    def __init__(self, feed: Feed, groups: list[_Group]):
        self._feed, self._groups = feed, groups
        self._q: asyncio.Queue = asyncio.Queue(feed._buffer)
        self._tasks: list[asyncio.Task] = []
        self._stop = [False]  # shared with the readers, which hold no reference to the subscription
        weakref.finalize(self, _cancel, self._tasks, self._stop)

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Update:
        if self._stop[0]:
            raise StopAsyncIteration
        if not self._tasks:
            f, n = self._feed, min(len(self._groups), self._feed._readers)
            self._tasks.extend(asyncio.ensure_future(f._read(self._groups[i::n], self._q, self._stop)) for i in range(n))
        u = await self._q.get()
        if u is not _DONE:
            return u
        # A reader failed (Feed._read): end the others and raise its error.
        await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
        err = next(t.exception() for t in self._tasks if t.done() and not t.cancelled() and t.exception())
        await self.aclose()
        raise err  # type: ignore[misc]

    async def aclose(self) -> None:
        """Ends the subscription: its readers are cancelled and awaited."""
        _cancel(self._tasks, self._stop)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> "Subscription":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class _Reader:
    """One reader's state: where updates go, and the pause after a failure."""

    def __init__(self, f: Feed, q: asyncio.Queue, stop: list[bool]):
        self.f, self.q, self.stop = f, q, stop
        self.pause = f._retry

    def ended(self) -> None:
        """Ends a reader whose cancellation redis-py swallowed."""
        if self.stop[0]:
            raise asyncio.CancelledError()

    async def put(self, u: Update) -> None:
        self.ended()
        await self.q.put(u)

    async def fail(self, e: CacheError) -> None:
        self.ended()
        self.f._on_error(e)
        await asyncio.sleep(self.pause)
        self.pause = min(2 * self.pause, 2.0)

    async def snapshot(self, g: _Group, i: int, resync: bool) -> None:
        f, rc = self.f, self.f._cache._rc
        sym = g.symbols[i]
        while True:
            try:
                v, ver, last = await rc.run("snapshot", NAMESPACE_MARKET_DATA, f"{sym}:quote", rc.backend.snapshot,
                                            g.keys[i], g.vers[i], g.streams[i], route=g.keys[i])
                quote = None if v is None else f._cache._decode(NAMESPACE_MARKET_DATA, g.keys[i], v)
            except CacheError as e:
                await self.fail(e)
                continue
            break
        version = _version(ver[:20] if ver else b"")
        c = g.cur[i]
        c.id = last
        c.ver = version if resync else max(c.ver, version)  # after a resync the stream may have gone back
        if resync:
            f.resyncs += 1
        if v is not None:
            f.delivered += 1
            await self.put(Update(sym, quote, version, last, snapshot=True, resync=resync))

    async def read(self, g: _Group, block_ms: int) -> bool:
        """Reads g's streams after what it delivered, waiting up to
        block_ms, and delivers what it read; whether there was anything."""
        rc = self.f._cache._rc
        try:
            got = await rc.run("stream_read", NAMESPACE_MARKET_DATA, g.symbols[0], rc.backend.xread, g.streams,
                               [c.id or "0-0" for c in g.cur], self.f._count, block_ms, route=g.keys[0],
                               blocking=block_ms > 0)
        except CacheError as e:
            await self.fail(e)
            return False
        self.pause = self.f._retry
        now = time.time()
        for i, entries in enumerate(got):
            await self._deliver(g, i, entries, now)
        return any(got)

    async def _deliver(self, g: _Group, i: int, entries: list[tuple[str, dict]], now: float) -> None:
        f = self.f
        sym, c = g.symbols[i], g.cur[i]
        for eid, fields in entries:
            if _text(fields.get("p")) != c.id:
                # The entry before this one is not the one delivered last:
                # the stream was trimmed past this subscriber (or lost its
                # tail in a failover). Start again from a snapshot; the
                # entries after it come next read.
                await self.snapshot(g, i, True)
                return
            quote, version, bad = self._check(g, i, fields, c.ver)
            if bad is not None:
                f.refused += 1
                f._on_error(BadEntryError(f"feed: {sym} entry {eid} refused: {bad}").with_context(
                    "subscribe", NAMESPACE_MARKET_DATA, f"{sym}:quote"))
                await self.snapshot(g, i, True)
                if _id_less(c.id, eid):
                    c.id = eid  # the snapshot is from before it: do not read it again
                return
            c.id, c.ver = eid, version
            f.delivered += 1
            await self.put(Update(sym, quote, version, eid, lag=max(0.0, now - _id_time(eid))))

    def _check(self, g: _Group, i: int, fields: dict, last: int) -> tuple[Any, int, str | None]:
        """The entry's quote and version, or why it is refused (Go's
        checkEntry): along an intact chain every entry Publish wrote carries
        a version above the one before it, equal to its quote's seq."""
        version = _version(fields.get("v", b""))
        try:
            quote = self.f._cache._decode(NAMESPACE_MARKET_DATA, g.keys[i], fields.get("d", b""))
        except CacheError as e:
            return None, version, str(e)
        seq = quote.get("seq") if isinstance(quote, dict) else None
        if version == 0:
            return quote, version, "its version is missing or unreadable"
        if seq != version:
            return quote, version, f"its version {version} is not its quote's seq {seq}"
        if version <= last:
            return quote, version, f"its version {version} does not rise above {last}"
        return quote, version, None


def _text(b: Any) -> str:
    if b is None:
        return ""
    return b.decode() if isinstance(b, bytes) else str(b)


def _version(b: Any) -> int:
    """A version field: decimal digits below 2^64, else 0 (unreadable)."""
    s = _text(b)
    if not s.isdigit() or not s.isascii():
        return 0
    v = int(s)
    return v if v < 1 << 64 else 0


def _id_parts(eid: str) -> tuple[int, int]:
    ms, _, seq = eid.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0


def _id_less(a: str, b: str) -> bool:
    return _id_parts(a) < _id_parts(b)


def _id_time(eid: str) -> float:
    return _id_parts(eid)[0] / 1000
