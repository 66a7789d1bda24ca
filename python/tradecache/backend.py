"""Where values live: Redis (standalone, Sentinel or Cluster, through
Debian's redis.asyncio) or this process's memory. CacheManager speaks to
one Backend and never to a client directly, so that every topology and the
in-memory store run the same code above it (and one test suite).

Every Redis command is bounded, connecting included, and a connection
is waited for at most the operation timeout. Single-key commands on one
server are bounded by one timer each (_within; a socket timeout costs
three timers per command: most of a GET's client time at 50 tasks); their
client is _SafeRedis, which closes a cancelled command's connection before
it goes back to the pool: redis-py before 4.5.3 (Debian 12 has 4.3.4)
would hand the cancelled command's reply to the next command on that
connection (CVE-2023-28859), a wrong value. (The pool's own check for
unread data catches a reply that has already arrived; tests/test_resilience.py
and a DEBUG SLEEP probe did not make the race show on 4.3.4, so the close
is a defence, not a fix shown to be needed.) Batches, pipelines, SCAN and
UNLINK, and every command on Sentinel and Cluster, are bounded by the
client's own socket timeouts, which close the connection themselves.
"""

from __future__ import annotations

import asyncio
import collections
import fnmatch
import os
import ssl
import time
from typing import Any, Iterable

from . import keyslot
from .config import Config
from .errors import NoStreamsError

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


# SNAPSHOT reads a value, its version key and its stream's last entry ID at
# one instant: store/redisstore's snapshot script, word for word, so that a
# Python subscriber starts where a Go one would.
SNAPSHOT = """
local v = redis.call("GET", KEYS[1])
local ver = redis.call("GET", KEYS[2])
local last = redis.call("XREVRANGE", KEYS[3], "+", "-", "COUNT", 1)
local id = ""
if #last > 0 then id = last[1][1] end
return {v, ver, id}"""


class PoolWait(Exception):
    """No pooled connection came free within the operation timeout: this
    process has more calls in flight than connections. Not a failure of
    Redis: it does not count against the circuit breaker."""


class Backend:
    """The operations CacheManager needs. TTLs are in milliseconds; 0 is
    no expiry."""

    kind = "memory"

    async def get(self, key: str) -> bytes | None: ...
    async def mget(self, keys: list[str]) -> list[bytes | None]: ...
    async def set(self, key: str, value: bytes, px: int) -> None: ...
    async def set_many(self, items: list[tuple[str, bytes]], px: int) -> None: ...
    async def set_nx(self, key: str, value: bytes, px: int) -> bool: ...
    async def delete(self, keys: list[str]) -> int: ...
    async def exists(self, key: str) -> bool: ...
    async def getex(self, key: str, px: int) -> bytes | None: ...
    async def set_if_newer(self, key: str, ver_key: str, value: bytes, version: str, px: int) -> bool: ...
    async def scan_delete(self, pattern: str, batch: int) -> int: ...
    async def snapshot(self, key: str, ver_key: str, stream: str) -> tuple[bytes | None, bytes | None, str]: ...
    async def xread(self, streams: list[str], ids: list[str], count: int, block_ms: int) -> list[list[tuple[str, dict]]]: ...
    async def ping(self) -> None: ...
    async def info(self) -> dict[str, Any]: ...
    async def close(self) -> None: ...


class MemoryBackend(Backend):
    """This process's memory, for development and tests when no Redis is
    configured (the Go library's embedded store does the same). Values
    expire like Redis keys; nothing is shared with another process."""

    kind = "memory"

    def __init__(self, clock=time.monotonic):
        self._data: dict[str, tuple[bytes, float]] = {}  # key -> (value, expiry; 0: none)
        self._clock = clock

    def _live(self, key: str) -> bytes | None:
        e = self._data.get(key)
        if e is None:
            return None
        if e[1] and e[1] <= self._clock():
            del self._data[key]
            return None
        return e[0]

    def _exp(self, px: int) -> float:
        return self._clock() + px / 1000 if px else 0.0

    async def get(self, key):
        return self._live(key)

    async def mget(self, keys):
        return [self._live(k) for k in keys]

    async def set(self, key, value, px):
        self._data[key] = (bytes(value), self._exp(px))

    async def set_many(self, items, px):
        for k, v in items:
            self._data[k] = (bytes(v), self._exp(px))

    async def set_nx(self, key, value, px):
        if self._live(key) is not None:
            return False
        self._data[key] = (bytes(value), self._exp(px))
        return True

    async def delete(self, keys):
        n = 0
        for k in keys:
            if self._live(k) is not None:
                del self._data[k]
                n += 1
        return n

    async def exists(self, key):
        return self._live(key) is not None

    async def getex(self, key, px):
        v = self._live(key)
        if v is not None:
            self._data[key] = (v, self._exp(px))
        return v

    async def set_if_newer(self, key, ver_key, value, version, px):
        cur = self._live(ver_key)
        if cur is not None and cur.decode() >= version:
            return False
        self._data[key] = (bytes(value), self._exp(px))
        self._data[ver_key] = (version.encode(), self._exp(px))
        return True

    async def scan_delete(self, pattern, batch):
        gone = [k for k in list(self._data) if fnmatch.fnmatchcase(k, pattern) and self._live(k) is not None]
        for k in gone:
            del self._data[k]
        return len(gone)

    async def snapshot(self, key, ver_key, stream):
        raise NoStreamsError("the in-memory backend keeps no streams: subscribe needs Redis")

    async def xread(self, streams, ids, count, block_ms):
        raise NoStreamsError("the in-memory backend keeps no streams: subscribe needs Redis")

    async def ping(self):
        return None

    async def info(self):
        return {"backend": "memory", "keys": len(self._data)}

    async def close(self):
        self._data.clear()


# Forks of this process seen, bumped in the child by os.register_at_fork:
# what _pool_class's fork check reads instead of calling getpid().
_FORKS = [0]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _FORKS.__setitem__(0, _FORKS[0] + 1))


def _pool_class():
    """redis.asyncio's ConnectionPool whose fork check (_checkpid, run on
    every get_connection and release) compares a counter that a fork hook
    bumps, and only after a fork runs redis-py's own check (pid against
    getpid(), then reset): getpid() is a system call, twice per command,
    which on this kind of VM cost a GET about 1 µs."""
    from redis.asyncio.connection import ConnectionPool

    class Pool(ConnectionPool):
        def reset(self) -> None:
            super().reset()
            self._forks = _FORKS[0]

        def _checkpid(self) -> None:
            if self._forks != _FORKS[0]:
                super()._checkpid()
                self._forks = _FORKS[0]

    return Pool


def _safe_redis():
    """redis.asyncio.Redis whose execute_command closes the connection of
    a command cancelled mid-flight (by _within) before releasing
    it, as redis-py 4.5.4 does: its reply can never reach another command.
    The close is synchronous (the parser forgets its reader, the writer is
    closed), so a second cancellation cannot interrupt it."""
    import redis.asyncio as aioredis

    class SafeRedis(aioredis.Redis):
        async def execute_command(self, *args: Any, **options: Any) -> Any:
            await self.initialize()
            pool = self.connection_pool
            command_name = args[0]
            conn = self.connection or await pool.get_connection(command_name, **options)
            try:
                return await conn.retry.call_with_retry(
                    lambda: self._send_command_parse_response(conn, command_name, *args, **options),
                    lambda error: self._disconnect_raise(conn, error),
                )
            except asyncio.CancelledError:
                _drop(conn)
                raise
            finally:
                if not self.connection:
                    await pool.release(conn)

    return SafeRedis


async def _within(seconds: float | None, aw: Any) -> Any:
    """Await aw, cancelling it after seconds (None: no bound) and raising
    TimeoutError then. One timer per call. (asyncio.timeout is not used:
    on Python 3.11.2 with redis-py 4.3.4 a timed-out read let the
    CancelledError through instead of TimeoutError, the task's cancel count
    at 3 for one cancel.)"""
    if seconds is None:
        return await aw
    task = asyncio.current_task()
    start = task.cancelling()
    fired = [False]
    handle = task.get_loop().call_later(seconds, _fire, task, fired)
    try:
        return await aw
    except asyncio.CancelledError:
        if not fired[0]:
            raise
        raise _timed_out(task, start, seconds) from None
    finally:
        handle.cancel()


def _timed_out(task: asyncio.Task, start: int, seconds: float) -> TimeoutError:
    """The error of a call _fire cancelled: the task's cancel count back to
    where it was (one timer's cancel can count several times), and a
    TimeoutError to raise instead of the CancelledError."""
    while task.cancelling() > start:
        task.uncancel()
    return TimeoutError(f"no reply within {seconds * 1000:.0f} ms")


class _Deadlines:
    """The deadlines of calls that share one bound, kept in the order they
    started (which, for one bound, is the order they expire) with one loop
    timer among them, set for the oldest call still running. A loop timer
    per call (call_later, then cancel) cost 13-19 µs a call at 50 tasks: the
    cancelled timers stay in the loop's heap for the whole bound, and each
    new one is pushed past thousands of them with a Python-level
    comparison. Here a call costs a deque append and a flag.

    A call past its deadline is cancelled, and cancelled again every
    RECANCEL until it ends: redis-py 4.3.4 can swallow a cancellation
    (async_timeout(0) in its pool's can_read check turns it into a timeout
    it then ignores), and the call would wait on a frozen server for ever
    (seen once in make test: SIGSTOP, and the loop with no timer left)."""

    __slots__ = ("seconds", "loop", "queue", "fired", "handle")

    RECANCEL = 0.01

    def __init__(self, seconds: float, loop: asyncio.AbstractEventLoop):
        self.seconds, self.loop = seconds, loop
        self.queue: collections.deque = collections.deque()
        self.fired: list = []  # entries cancelled that have not ended yet
        self.handle: asyncio.TimerHandle | None = None

    def start(self, task: asyncio.Task) -> list:
        """Bound task's call: the entry is [deadline, task, fired]; set its
        task to None when the call ends."""
        e = [self.loop.time() + self.seconds, task, False]
        self.queue.append(e)
        if self.handle is None:
            self.handle = self.loop.call_at(e[0], self._sweep)
        return e

    def _sweep(self) -> None:
        self.handle = None
        q, now = self.queue, self.loop.time()
        fired = [e for e in self.fired if e[1] is not None]
        for e in fired:
            e[1].cancel()  # again: the last one may have been swallowed
        while q:
            e = q[0]
            if e[1] is not None:
                if e[0] > now:
                    break
                e[2] = True
                e[1].cancel()
                fired.append(e)
            q.popleft()
        self.fired = fired
        at = q[0][0] if q else None
        if fired:
            at = min(at, now + self.RECANCEL) if at is not None else now + self.RECANCEL
        if at is not None:
            self.handle = self.loop.call_at(at, self._sweep)


class _Slots:
    """The pool's size as a count of free connections. Taking a free one
    does not suspend and creates no coroutine (asyncio.Semaphore.acquire
    is a coroutine even when uncontended: 7% of a GET at 50 tasks with the
    timer); a caller finding none waits on a future, first come first
    served, and a released slot goes straight to the first waiter."""

    __slots__ = ("free", "waiters")

    def __init__(self, n: int):
        self.free = n
        self.waiters: collections.deque = collections.deque()

    def wait(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future:
        """A future that a release completes, for a caller that found no
        free slot; the slot is the caller's once it is done."""
        f = loop.create_future()
        self.waiters.append(f)
        return f

    def release(self) -> None:
        while self.waiters:
            f = self.waiters.popleft()
            if not f.done():
                f.set_result(None)
                return
        self.free += 1

    def abandon(self, f: asyncio.Future) -> None:
        """A waiter gave up (cancelled, or its bound passed): if a release
        had already handed it the slot, pass the slot on."""
        if f.done() and not f.cancelled():
            self.release()
        else:
            f.cancel()


def _fire(task: asyncio.Task, fired: list) -> None:
    fired[0] = True
    task.cancel()


def _drop(conn: Any) -> None:
    """Close conn at once, without awaiting: its next use reconnects."""
    try:
        conn._parser.on_disconnect()
        if conn._writer is not None:
            conn._writer.close()
    except Exception:  # closing a broken connection may itself fail; it is dropped either way
        pass
    conn._reader = conn._writer = None


def _ssl_kwargs(cfg: Config) -> dict:
    if not cfg.redis_ssl and not cfg.redis_url.startswith("rediss://"):
        return {}
    kw: dict[str, Any] = {"ssl": True, "ssl_cert_reqs": ssl.CERT_REQUIRED}
    if cfg.redis_tls_ca_file:
        kw["ssl_ca_certs"] = cfg.redis_tls_ca_file
    if cfg.redis_tls_cert_file:
        kw["ssl_certfile"], kw["ssl_keyfile"] = cfg.redis_tls_cert_file, cfg.redis_tls_key_file or None
    return kw


class RedisBackend(Backend):
    """Redis through redis.asyncio: two clients over one configuration,
    one whose socket timeout is the operation timeout (single keys) and
    one with the batch timeout (MGET, pipelines, SCAN, UNLINK)."""

    def __init__(self, cfg: Config, client: Any = None):
        import redis.asyncio as aioredis

        self.kind = cfg.topology if client is None else "standalone"
        self._bounded: float | None = None
        self._slots: _Slots | None = None
        self._deadlines: dict[float, _Deadlines] = {}  # by bound: _do's timers
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop _do last ran on
        self._cluster = self.kind == "cluster"
        op, batch = max(cfg.op_timeout, 0.001), max(cfg.batch_timeout, cfg.op_timeout, 0.001)
        if client is not None:
            self.op = self.batch = client
        elif self._cluster:
            from redis.asyncio.cluster import ClusterNode, RedisCluster

            def make(timeout: float):
                nodes = [ClusterNode(a.rpartition(":")[0], int(a.rpartition(":")[2])) for a in cfg.cluster_addrs]
                return RedisCluster(startup_nodes=nodes, socket_timeout=timeout, socket_connect_timeout=op,
                                    username=cfg.redis_username or None, password=cfg.redis_password or None,
                                    max_connections=cfg.pool_size, **_ssl_kwargs(cfg))

            self.op, self.batch = make(op), make(batch)
        elif self.kind == "sentinel":
            from redis.asyncio.sentinel import Sentinel

            addrs = [(a.rpartition(":")[0], int(a.rpartition(":")[2])) for a in cfg.sentinel_addrs]
            skw = {"socket_timeout": op, "socket_connect_timeout": op}
            if cfg.sentinel_password or cfg.sentinel_username:
                skw.update(username=cfg.sentinel_username or None, password=cfg.sentinel_password or None)
            self._sentinel = Sentinel(addrs, sentinel_kwargs=skw, socket_connect_timeout=op, db=cfg.redis_db,
                                      username=cfg.redis_username or None, password=cfg.redis_password or None,
                                      **_ssl_kwargs(cfg))
            self.op = self._sentinel.master_for(cfg.sentinel_master, socket_timeout=op)
            self.batch = self._sentinel.master_for(cfg.sentinel_master, socket_timeout=batch)
        else:
            from redis.asyncio.connection import BlockingConnectionPool

            def make(timeout: float | None, cls: Any, pool_cls: Any):
                kw: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": op,
                                      "max_connections": cfg.pool_size}
                if pool_cls is BlockingConnectionPool:
                    kw["timeout"] = op
                if cfg.redis_url:
                    pool = pool_cls.from_url(cfg.redis_url, **kw)
                else:
                    pool = pool_cls(host=cfg.redis_host, port=cfg.redis_port, db=cfg.redis_db,
                                    username=cfg.redis_username or None, password=cfg.redis_password or None,
                                    **kw, **_ssl_pool_kwargs(cfg))
                return cls(connection_pool=pool)

            # Single-key commands: a plain pool, its size kept by a semaphore
            # (an uncontended acquire does not suspend; BlockingConnectionPool's
            # queue and lock cost a tenth of a GET at 50 tasks), a wait for a
            # slot bounded by the operation timeout, and one timer per command.
            self.op = make(None, _safe_redis(), _pool_class())
            self.batch = make(batch, aioredis.Redis, BlockingConnectionPool)
            self._bounded, self._batch_bound = op, batch
            self._slots = _Slots(cfg.pool_size)
        self._script = None if self._cluster else self.op.register_script(SET_IF_NEWER)
        self._snapshot = None if self._cluster else self.op.register_script(SNAPSHOT)

    async def _do(self, aw: Any, bound: float | None = None) -> Any:
        """One single-key command: a pool slot, then the command, both
        within the operation timeout, kept by _Deadlines (one loop timer
        among all calls of a bound, not one each). A call that times out
        still waiting for a slot raises PoolWait (this process is busy, not
        Redis down); one that times out in the command, TimeoutError. The
        body is inlined: each coroutine level costs a GET about a
        microsecond."""
        slots = self._slots
        if slots is None:
            return await aw
        seconds = bound or self._bounded
        # The loop is remembered: asyncio.current_task() without one asks
        # get_running_loop, which in Python 3.11 calls getpid() (a system
        # call; 1.4 µs of the 3.4 µs this took per call). A remembered loop
        # that is not running has no current task, and is then replaced.
        loop = self._loop
        task = asyncio.current_task(loop) if loop is not None else None
        if task is None:
            loop = self._loop = asyncio.get_running_loop()
            task = asyncio.current_task(loop)
        start = task.cancelling()
        dl = self._deadlines.get(seconds)
        if dl is None or dl.loop is not loop:
            dl = self._deadlines[seconds] = _Deadlines(seconds, loop)
        entry = dl.start(task)
        held = False
        try:
            if slots.free > 0:
                slots.free -= 1
            else:
                f = slots.wait(loop)
                try:
                    await f
                except BaseException:
                    slots.abandon(f)
                    raise
            held = True
            return await aw
        except asyncio.CancelledError:
            if not entry[2]:
                raise
            err = _timed_out(task, start, seconds)
            if not held:
                raise PoolWait(f"no pooled connection free within {seconds * 1000:.0f} ms") from None
            raise err from None
        finally:
            entry[1] = None
            if held:
                slots.release()
            else:
                aw.close()

    def get(self, key):
        return self._do(self.op.get(key))

    async def mget(self, keys):
        if self._cluster:
            # One MGET per hash slot, each routed by its keys' slot, at
            # once: redis-py 4.3.4's mget_nonatomic sends them through its
            # asyncio cluster pipeline, whose replies can come back None
            # (the conformance suite's batch test: TypeError from its
            # reordering of a None reply).
            by_slot: dict[int, list[int]] = {}
            for i, k in enumerate(keys):
                by_slot.setdefault(keyslot.slot(k), []).append(i)
            groups = list(by_slot.values())
            replies = await asyncio.gather(*(self.batch.execute_command("MGET", *(keys[i] for i in g)) for g in groups))
            out: list[bytes | None] = [None] * len(keys)
            for g, r in zip(groups, replies):
                if not isinstance(r, list) or len(r) != len(g):
                    raise ConnectionError(f"MGET of {len(g)} keys answered {type(r).__name__}")
                for i, v in zip(g, r):
                    out[i] = v
            return out
        if self._slots is not None:  # one timer for the whole reply, not three per value read
            return await self._do(self.op.mget(keys), self._batch_bound)
        return await self.batch.mget(keys)

    def set(self, key, value, px):
        return self._do(self.op.set(key, value, px=px or None))

    async def set_nx(self, key, value, px):
        return bool(await self._do(self.op.set(key, value, px=px, nx=True)))

    async def set_many(self, items, px):
        if self._cluster:
            # One round trip per key here (redis-py's asyncio cluster pipeline
            # came later than Debian's 4.3): bounded by the batch size.
            await asyncio.gather(*(self.batch.set(k, v, px=px or None) for k, v in items))
            return
        pipe = self.batch.pipeline(transaction=False)
        for k, v in items:
            pipe.set(k, v, px=px or None)
        await pipe.execute()

    async def delete(self, keys):
        if self._cluster:
            # One UNLINK per key, routed by its slot: redis-py 4.3.4's own
            # cluster unlink splits keys by slot through a pipeline whose
            # replies can come back None.
            return sum(await asyncio.gather(*(self.batch.execute_command("UNLINK", k) for k in keys)))
        return await self.batch.unlink(*keys)

    async def exists(self, key):
        # EXISTS by hand: redis-py 4.3.4's cluster exists() splits its keys
        # across slots through its pipeline, which reads the slot map
        # without loading it first (KeyError on a client not used yet).
        return bool(await self._do(self.op.execute_command("EXISTS", key)))

    async def getex(self, key, px):
        return await self._do(self.op.execute_command("GETEX", key, "PX", px))

    async def set_if_newer(self, key, ver_key, value, version, px):
        if self._cluster:
            return bool(await self.op.execute_command("EVAL", SET_IF_NEWER, 2, key, ver_key, value, version, px))
        return bool(await self._do(self._script(keys=[key, ver_key], args=[value, version, px])))

    async def scan_delete(self, pattern, batch):
        removed = 0
        if self._cluster:
            keys = [k async for k in self.batch.scan_iter(match=pattern, count=batch)]
            for i in range(0, len(keys), batch):
                removed += await self.delete(keys[i:i + batch])
            return removed
        cursor = 0
        while True:
            cursor, keys = await self.batch.scan(cursor, match=pattern, count=batch)
            if keys:
                removed += await self.batch.unlink(*keys)
            if cursor == 0:
                return removed

    async def snapshot(self, key, ver_key, stream):
        if self._cluster:
            r = await self.op.execute_command("EVAL", SNAPSHOT, 3, key, ver_key, stream)
        else:
            r = await self._do(self._snapshot(keys=[key, ver_key, stream]))
        if not isinstance(r, list) or len(r) != 3:
            raise ConnectionError(f"the snapshot script answered {type(r).__name__}")
        last = r[2]
        return r[0], r[1], last.decode() if isinstance(last, bytes) else str(last or "")

    async def xread(self, streams, ids, count, block_ms):
        """XREAD of streams after ids: one list of (id, fields) per stream.
        A blocking read goes through the batch client, whose socket timeout
        (the batch timeout) is above any block the feed allows; on a
        cluster the streams share a hash slot, and the read goes to its
        node."""
        args: list[Any] = ["XREAD", "COUNT", max(count, 1)]
        if block_ms > 0:
            args += ["BLOCK", block_ms]
        args += ["STREAMS", *streams, *ids]
        if self._cluster:
            if getattr(self.batch, "_initialize", False):
                await self.batch.initialize()  # the slot map, before it is asked for a node
            node = self.batch.get_node_from_key(streams[0])
            r = await self.batch.execute_command(*args, target_nodes=node)
        else:
            r = await self.batch.execute_command(*args)
        out: list[list[tuple[str, dict]]] = [[] for _ in streams]
        if not r:
            return out
        at = {s: i for i, s in enumerate(streams)}
        for name, entries in r:
            i = at.get(name.decode() if isinstance(name, bytes) else name)
            if i is None:
                continue
            for eid, fields in entries:
                out[i].append((eid.decode() if isinstance(eid, bytes) else eid, _fields(fields)))
        return out

    async def ping(self):
        await self._do(self.op.ping())

    async def info(self):
        info = await self.batch.info()
        if self._cluster:  # {node: info}: the first master's figures, and the count
            nodes = list(info.values()) if info and isinstance(next(iter(info.values())), dict) else [info]
            out = dict(nodes[0]) if nodes else {}
            out["cluster_nodes"] = len(nodes)
            return out
        return info

    async def close(self):
        for c in {id(self.op): self.op, id(self.batch): self.batch}.values():
            await c.close()
            pool = getattr(c, "connection_pool", None)
            if pool is not None:
                await pool.disconnect()


def _fields(fields: Any) -> dict[str, bytes]:
    """An entry's fields by name: redis-py gives a dict, or a flat list
    from a raw reply; an entry deleted while pending has none."""
    if fields is None:
        return {}
    if isinstance(fields, dict):
        items = fields.items()
    else:
        items = zip(fields[0::2], fields[1::2])
    return {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in items}


def _ssl_pool_kwargs(cfg: Config) -> dict:
    """TLS for a pool built from host and port: its connection class."""
    kw = _ssl_kwargs(cfg)
    if not kw:
        return {}
    from redis.asyncio.connection import SSLConnection

    kw.pop("ssl")
    return {"connection_class": SSLConnection, **kw}


def batches(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
