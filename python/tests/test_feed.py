"""tradecache.Feed against real redis-server processes: the order and
chain rules of trading/feed's Subscribe (trading/feed/python_test.go
follows the Go publisher itself), a kill -9 reported and recovered from,
and a subscription that ends when its loop does. Entries are written here
the way the Go feed's publish script writes them: the stream entry (v, d,
p), the value and the version key "<20 digits> <entry id>"."""

import asyncio
import gc
import time

import pytest

from tradecache import (BadEntryError, CacheConfigurationError, CacheManager, CacheTimeoutError, Config, Feed,
                        InvalidKeyError, NoStreamsError, RedisConnectionError, keyslot)
from tradecache.breaker import CLOSED
from feedpub import D, publish, take
from tradecache.config import NAMESPACE_MARKET_DATA


def manager(url, **kw):
    kw.setdefault("op_timeout", 0.2)
    kw.setdefault("breaker_open_timeout", 0.2)
    return CacheManager(Config(redis_url=url, key_prefix="feedpy", **kw))


def test_snapshot_then_every_update_in_order(redis_url):
    async def go():
        async with manager(redis_url) as m:
            await publish(m, "FA", 1)
            await publish(m, "FB", 1)
            async with Feed(m, block=0.05).subscribe(["FA", "FB"]) as updates:
                snaps = await take(updates, 2)
                assert sorted((u.symbol, u.version, u.snapshot) for u in snaps) == [("FA", 1, True), ("FB", 1, True)]
                for seq in range(2, 6):
                    await publish(m, "FA", seq)
                got = await take(updates, 4)
                assert [(u.symbol, u.version, u.quote["bid"], u.snapshot) for u in got] == \
                    [("FA", s, D(s) / 100, False) for s in range(2, 6)]
                assert all(u.lag >= 0 for u in got)
    asyncio.run(go())


def test_a_broken_chain_resyncs_and_a_planted_entry_is_refused(redis_url):
    async def go():
        errors = []
        async with manager(redis_url) as m:
            await publish(m, "FC", 1)
            f = Feed(m, block=0.05, on_error=errors.append)
            async with f.subscribe(["FC"]) as updates:
                assert (await take(updates, 1))[0].version == 1
                # An entry that does not name the one delivered: the stream
                # was trimmed past the subscriber. It reads a snapshot.
                await publish(m, "FC", 2, prev="1-1")
                u = (await take(updates, 1))[0]
                assert (u.version, u.snapshot, u.resync) == (2, True, True)
                # A planted entry: its version is not its quote's seq.
                r = m.redis
                full = m.key(NAMESPACE_MARKET_DATA, "FC:quote")
                stream = keyslot.companion(full, " stream")
                last = (await r.xrevrange(stream, count=1))[0][0].decode()
                env = m._encode(NAMESPACE_MARKET_DATA, full, {"symbol": "FC", "bid": D(9), "seq": 9})
                await r.xadd(stream, {"v": f"{1000000009:020d}", "d": env, "p": last})
                await publish(m, "FC", 3)
                # Refused, then read again from a snapshot (a Resync, as in
                # Go), and 3 arrives; the entry after it chains as usual.
                got = []
                while not got or got[-1].version < 3:
                    got += await take(updates, 1)
                assert [u.version for u in got] in ([2, 3], [3]) and got[0].resync, got
                assert len(errors) == 1 and isinstance(errors[0], BadEntryError), errors
                assert "is not its quote's seq" in str(errors[0])
                await publish(m, "FC", 4)
                u = (await take(updates, 1))[0]
                assert (u.version, u.snapshot, u.resync) == (4, False, False), u
            st = f.stats()
            assert st["refused"] == 1 and st["resyncs"] >= 2, st
    asyncio.run(go())


def test_kill9_is_reported_and_the_subscription_resumes(own_redis):
    async def go():
        errors = []
        async with manager(own_redis.url) as m:
            await publish(m, "FK", 1)
            async with Feed(m, block=0.05, on_error=errors.append).subscribe(["FK"]) as updates:
                assert (await take(updates, 1))[0].version == 1
                own_redis.kill()
                t0 = time.monotonic()
                while not errors and time.monotonic() - t0 < 5:
                    await asyncio.sleep(0.02)
                assert errors and all(isinstance(e, RedisConnectionError) for e in errors), errors
                own_redis.restart()  # empty: the stream starts again
                deadline = time.monotonic() + 10
                while True:
                    try:
                        await publish(m, "FK", 7)
                        break
                    except RedisConnectionError:
                        assert time.monotonic() < deadline, "no recovery 10 s after the restart"
                        await asyncio.sleep(0.05)
                u = (await take(updates, 1))[0]
                assert (u.version, u.quote["seq"]) == (7, 7), u  # never a value the new server does not hold
                await publish(m, "FK", 8)
                assert (await take(updates, 1))[0].version == 8
    asyncio.run(go())


def test_a_frozen_server_is_reported_bounded_and_the_subscription_resumes(own_redis):
    """SIGSTOP: each blocked read ends within the batch timeout and is
    reported (a timeout, not held against the breaker, which here opens
    on one failure); leaving the block
    while the server is frozen ends within that bound too; after SIGCONT
    the updates come again."""
    async def go():
        errors = []
        async with manager(own_redis.url, batch_timeout=0.5, breaker_failures=1) as m:
            await publish(m, "FS", 1)
            async with Feed(m, block=0.05, on_error=errors.append).subscribe(["FS"]) as updates:
                assert (await take(updates, 1))[0].version == 1
                own_redis.freeze()
                try:
                    t0 = time.monotonic()
                    while not errors and time.monotonic() - t0 < 5:
                        await asyncio.sleep(0.02)
                    took = time.monotonic() - t0
                    assert errors and all(isinstance(e, CacheTimeoutError) for e in errors), errors
                    assert took < 2.0, f"the first report came {took:.2f} s after the freeze (batch timeout 0.5 s)"
                    assert m.breaker.state == CLOSED, "a blocking read's timeout opened the breaker"
                finally:
                    own_redis.thaw()
                await publish(m, "FS", 2)
                got = await take(updates, 1)
                assert got[0].version == 2, got
            own_redis.freeze()
            try:
                sub = Feed(m, block=0.05, on_error=errors.append).subscribe(["FS"])
                t0 = time.monotonic()
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(take(sub, 1), 0.2)  # the snapshot waits on the frozen server
                await sub.aclose()
                assert time.monotonic() - t0 < 2.0, "closing a subscription on a frozen server was not bounded"
            finally:
                own_redis.thaw()
    asyncio.run(go())


def test_leaving_the_loop_ends_the_readers(redis_url):
    async def go():
        async with manager(redis_url) as m:
            await publish(m, "FL", 1)
            before = len(asyncio.all_tasks())
            async for u in Feed(m, block=0.05).subscribe(["FL"]):
                assert u.version == 1
                break
            gc.collect()
            for _ in range(50):  # a cancelled reader ends when its read returns
                if len(asyncio.all_tasks()) <= before:
                    break
                await asyncio.sleep(0.02)
            assert len(asyncio.all_tasks()) <= before, asyncio.all_tasks()
    asyncio.run(go())


def test_a_reader_that_fails_unexpectedly_raises_to_the_consumer(redis_url, monkeypatch):
    """An error the reader does not expect (here, a bug planted in the
    entry check) reaches the loop, after what was queued before it, and
    ends the subscription: it is never swallowed."""
    from tradecache import feed as feedmod

    def broken(self, g, i, fields, last):
        raise RuntimeError("planted bug")

    async def go():
        async with manager(redis_url) as m:
            await publish(m, "FX", 1)
            sub = Feed(m, block=0.05).subscribe(["FX"])
            assert (await take(sub, 1))[0].version == 1
            monkeypatch.setattr(feedmod._Reader, "_check", broken)
            await publish(m, "FX", 2)
            with pytest.raises(RuntimeError, match="planted bug"):
                await asyncio.wait_for(take(sub, 1), 10)
            assert all(t.done() for t in sub._tasks)
    asyncio.run(go())


def test_bad_arguments_are_refused_before_anything_is_read(redis_url):
    async def go():
        async with manager(redis_url) as m:
            for kw in ({"block": 0}, {"block": 5.0}, {"count": 0}, {"readers": 0}, {"buffer": -1}, {"retry": 0}):
                with pytest.raises(CacheConfigurationError):
                    Feed(m, **kw)
            f = Feed(m)
            with pytest.raises(ValueError):
                f.subscribe([])
            with pytest.raises(InvalidKeyError):
                f.subscribe(["A{}B"])
        async with CacheManager(Config(environment="development")) as mem:  # no address: the in-memory backend
            with pytest.raises(NoStreamsError):
                Feed(mem).subscribe(["FM"])
    asyncio.run(go())


def test_the_snapshot_script_is_the_go_librarys():
    """The snapshot a Python subscriber starts from is read by the same
    script as Go's (store/redisstore/streams.go), word for word."""
    import os
    import re

    from tradecache.backend import SNAPSHOT

    go = open(os.path.join(os.path.dirname(__file__), "..", "..", "store", "redisstore", "streams.go")).read()
    m = re.search(r"var snapshot = rueidis\.NewLuaScript\(`(.*?)`\)", go, re.S)
    assert m, "store/redisstore/streams.go has no snapshot script"
    assert m.group(1).strip() == SNAPSHOT.strip()


def test_the_docs_feed_example_runs(redis_url):
    """docs/python.md's feed example runs as written (in a child process,
    whose stderr is printed when it fails)."""
    import os
    import re
    import subprocess
    import sys

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    doc = open(os.path.join(root, "docs", "python.md")).read()
    code = re.search(r"```python\n(.*?)```", doc[doc.index("## The feed"):], re.S).group(1)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CACHE_"))},
           "REDIS_URL": redis_url, "CACHE_KEY_PREFIX": "feeddoc", "PYTHONPATH": os.path.join(root, "python")}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"the example failed:\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"
    assert p.stdout.splitlines() == ["AAPL 42 189.25 True"], p.stdout
