"""The Go side's resilience, from Python, against real redis-server
processes: kill -9, SIGSTOP, a rotated password, a corrupt value in a
batch, and concurrent cold calls. Each asserts no wrong value, bounded
latency and recovery without a new CacheManager."""

import asyncio
import time

import pytest

from tradecache import (CacheAuthError, CacheConfigurationError, CacheManager, CacheTimeoutError, CircuitBreaker,
                        CircuitOpenError, Config, EnvelopeError, InvalidationQueueFull, RedisConnectionError, cache_result)
from tradecache.breaker import CLOSED, HALF_OPEN, OPEN


def manager(url, **kw):
    kw.setdefault("op_timeout", 0.1)
    kw.setdefault("breaker_open_timeout", 0.2)
    return CacheManager(Config(redis_url=url, key_prefix="res", **kw))


def test_breaker_moves_with_its_clock():
    now = [0.0]
    b = CircuitBreaker(failure_threshold=3, timeout=1.0, clock=lambda: now[0])
    for _ in range(3):
        b.allow()
        b.failure(CacheAuthError("WRONGPASS"))
    assert b.state == OPEN
    with pytest.raises(CircuitOpenError) as ei:
        b.allow()
    assert isinstance(ei.value.cause, CacheAuthError) and isinstance(ei.value, RedisConnectionError)
    now[0] = 1.0
    assert b.state == HALF_OPEN
    b.allow()  # the probe
    with pytest.raises(CircuitOpenError):
        b.allow()  # one probe at a time
    b.failure(RedisConnectionError("refused"))
    assert b.state == OPEN and b.opened == 2
    b.probe_succeeded()  # a health check reached Redis: half-open now, not after the timeout
    assert b.state == HALF_OPEN
    b.allow()
    b.success()
    assert b.state == CLOSED and b.cause is None


def test_kill9_decorated_function_still_answers_and_breaker_recovers(own_redis):
    async def go():
        async with manager(own_redis.url) as m:
            runs = []

            @cache_result(ttl=60, cache_manager=m)
            async def price(sym):
                runs.append(sym)
                return len(runs)

            assert await price("A") == 1 and await price("A") == 1  # cached
            own_redis.kill()
            t0 = time.perf_counter()
            got = [await price("B") for _ in range(20)]
            took = time.perf_counter() - t0
            assert got == list(range(2, 22)), got  # every call ran the function: no exception, no wrong value
            assert m.breaker.state == OPEN and m.breaker.rejected > 0
            assert took < 5, f"20 calls with Redis dead took {took:.2f} s"
            with pytest.raises(RedisConnectionError):
                await m.get("x")
            own_redis.restart()
            deadline = time.monotonic() + 10
            while True:
                try:
                    await m.set("after", 1)
                    break
                except RedisConnectionError:
                    if time.monotonic() > deadline:
                        pytest.fail("no recovery 10 s after the restart")
                    await asyncio.sleep(0.02)
            assert m.breaker.state == CLOSED and await m.get("after") == 1
            assert await m.get("A", default="gone") == "gone"  # the restarted server is empty: never an old value
    asyncio.run(go())


def test_sigstop_every_call_bounded(own_redis):
    """Redis frozen for 3 s under 20 tasks: no call over 1 s (the op
    timeout is 0.1 s; connecting included), every error typed, and calls
    succeed again after SIGCONT."""
    async def go():
        async with manager(own_redis.url) as m:
            await m.set_many({f"k{i}": f"v{i}" for i in range(20)})
            worst, errors, wrong = 0.0, 0, 0
            stop = time.monotonic() + 3.0

            async def worker(i):
                nonlocal worst, errors, wrong
                while time.monotonic() < stop:
                    t0 = time.perf_counter()
                    try:
                        # Each task its own key: a reply meant for another
                        # command (a cancelled one's) would show as a wrong value.
                        v = await m.get(f"k{i}")
                        if v != f"v{i}":
                            wrong += 1
                    except (RedisConnectionError, CacheTimeoutError):
                        errors += 1
                    worst = max(worst, time.perf_counter() - t0)
                    await asyncio.sleep(0.005)

            own_redis.freeze()
            try:
                await asyncio.gather(*(worker(i) for i in range(20)))
            finally:
                own_redis.thaw()
            print(f"SIGSTOP 3 s, 20 tasks: worst call {worst * 1000:.0f} ms, {errors} typed errors, {wrong} wrong values")
            assert wrong == 0 and errors > 0
            assert worst < 1.0, f"a call took {worst:.3f} s while Redis was frozen"
            deadline = time.monotonic() + 10
            while True:
                try:
                    if await m.get("k0") == "v0":
                        got = await asyncio.gather(*(m.get(f"k{i}") for i in range(20) for _ in range(5)))
                        assert got == [f"v{i}" for i in range(20) for _ in range(5)], got
                        break
                except (RedisConnectionError, CacheTimeoutError):
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("no recovery after SIGCONT")
                await asyncio.sleep(0.02)
    asyncio.run(go())


def test_concurrent_cold_calls_compute_once(redis_url):
    async def go():
        async with manager(redis_url, op_timeout=1.0) as m:
            runs = 0

            @cache_result(ttl=60, namespace="risk", cache_manager=m)
            async def var(portfolio):
                nonlocal runs
                runs += 1
                await asyncio.sleep(0.05)
                return {"var_95": portfolio}

            got = await asyncio.gather(*(var("P-cold") for _ in range(20)))
            assert all(g == {"var_95": "P-cold"} for g in got)
            return runs
    assert asyncio.run(go()) == 1


def test_one_bad_value_in_get_many(redis_url):
    async def go():
        async with manager(redis_url, op_timeout=1.0) as m:
            await m.set_many({"a": 1, "c": 3})
            await m.redis.set("res:default:b", b"\x10\xd4\x07\x00")  # corrupt
            errors = {}
            got = await m.get_many(["a", "b", "c", "d"], errors=errors)
            assert got == {"a": 1, "c": 3}
            assert list(errors) == ["b"] and isinstance(errors["b"], EnvelopeError)
    asyncio.run(go())


def test_rotated_password_is_named_while_the_breaker_is_open():
    from conftest import RedisServer
    srv = RedisServer("--requirepass", "old-pw")

    async def go():
        async with manager(f"redis://:old-pw@127.0.0.1:{srv.port}") as m:
            await m.set("k", 1)
            await m.redis.config_set("requirepass", "new-pw")
            await m.redis.client_kill_filter(_type="normal", skipme=False)
            kinds = set()
            for _ in range(200):
                try:
                    await m.get("k")
                except CircuitOpenError as e:
                    kinds.add("open:" + type(e.cause).__name__)
                except CacheAuthError:
                    kinds.add("auth")
                except (RedisConnectionError, CacheTimeoutError) as e:
                    kinds.add(type(e).__name__)
            assert m.breaker.state in (OPEN, HALF_OPEN)
            assert "auth" in kinds and "open:CacheAuthError" in kinds, kinds
    try:
        asyncio.run(go())
    finally:
        srv.close()


def test_no_address_nobody_configured(monkeypatch):
    for v in ("REDIS_URL", "REDIS_HOST", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS"):
        monkeypatch.delenv(v, raising=False)
    for env in ("staging", "production"):
        with pytest.raises(CacheConfigurationError, match="needs Redis"):
            CacheManager(environment=env)

    async def go():  # development: this process's memory, said in the log, as in Go
        async with CacheManager(environment="development") as m:
            assert m.redis is None and m._redis_cache.kind == "memory"
            await m.set("k", {"v": 1}, ttl=0)  # 0: the namespace's policy, not "never"
            assert await m.get("k") == {"v": 1}
    asyncio.run(go())


def test_bounding_calls_leaves_no_timers_behind(redis_url):
    """Each call is bounded, but not by a loop timer of its own: cancelled
    timers stay in the loop's heap for the whole op timeout, and at 50
    tasks pushing past them cost 13-19 µs a call. 2,000 gets at 50 tasks
    (more tasks than pooled connections, so most wait for a slot first)
    schedule a handful of timers, not one or two per call."""
    async def go():
        async with manager(redis_url, op_timeout=10.0) as m:
            await m.set("t", 1)

            async def worker():
                for _ in range(40):
                    assert await m.get("t") == 1

            await asyncio.gather(*(worker() for _ in range(50)))  # connections made
            loop, made = asyncio.get_running_loop(), 0
            call_at = loop.call_at

            def counting(*args, **kw):
                nonlocal made
                made += 1
                return call_at(*args, **kw)

            loop.call_at = counting  # call_later goes through it too
            try:
                await asyncio.gather(*(worker() for _ in range(50)))
            finally:
                del loop.call_at
            print(f"2,000 bounded gets at 50 tasks scheduled {made} loop timers")
            assert made <= 20, f"2,000 calls scheduled {made} loop timers"
    asyncio.run(go())


def test_forked_child_gets_its_own_connections(redis_url):
    """The pool's fork check reads a counter a fork hook bumps rather than
    calling getpid() per command: a child must still get new connections,
    never share the parent's sockets."""
    import os

    m = manager(redis_url)

    async def parent():
        await m.set("fork", "parent's")
        return m._rc.backend.op.connection_pool

    pool = asyncio.run(parent())
    parents = set(map(id, pool._available_connections))
    assert parents, "the parent made no connection"
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if it read through a new connection
        code = 1
        try:
            async def child():
                v = await m.get("fork")
                mine = set(map(id, pool._available_connections)) | set(map(id, pool._in_use_connections))
                return v == "parent's" and not (mine & parents)
            code = 0 if asyncio.run(child()) else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, f"child exited {os.WEXITSTATUS(status)}: it shared the parent's connections or failed"


def test_a_swallowed_cancellation_still_ends_the_call(redis_url):
    """A call past its bound is cancelled, and again until it ends: redis-py
    4.3.4 can swallow one cancellation (its pool's can_read check under
    async_timeout(0)), and make test once hung on a SIGSTOP'd server with
    the loop holding no timer at all."""
    async def go():
        async with manager(redis_url, op_timeout=0.05) as m:
            backend = m._rc.backend

            async def swallows_one():
                try:
                    await asyncio.sleep(5)
                except asyncio.CancelledError:
                    pass  # as redis-py did
                await asyncio.sleep(5)

            t0 = time.perf_counter()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(backend._do(swallows_one()), 2.0)
            took = time.perf_counter() - t0
            print(f"a call that swallowed its first cancellation ended after {took * 1000:.0f} ms (bound 50 ms)")
            assert took < 1.0, took
            assert await m.get("nothing") is None  # and the next call is served
    asyncio.run(go())


def test_durable_invalidation(own_redis):
    """A delete and a tag invalidation while Redis is frozen (SIGSTOP) do
    not raise; they are queued, applied by the next call once Redis
    answers, and then seen by another process's cache; past the queue's
    bound, an invalidation raises InvalidationQueueFull."""
    async def go():
        async with manager(own_redis.url) as m, manager(own_redis.url) as other:
            await m.set("k", 1)
            await m.set("t", 2, tags=["sym:AAPL"])
            assert await other.get("k") == 1 and await other.get("t") == 2
            own_redis.freeze()
            try:
                assert await m.delete("k") is False  # queued: nothing known deleted yet
                await m.invalidate_tag("sym:AAPL")
                st = (await m.get_stats())["invalidations"]
                assert st["queued"] == 2 and st["enqueued"] == 2, st
                m._inval.limit = 2
                with pytest.raises(InvalidationQueueFull):
                    await m.delete("k2")
            finally:
                own_redis.thaw()
            deadline = time.monotonic() + 10
            while (await m.get_stats())["invalidations"]["queued"]:
                if time.monotonic() > deadline:
                    pytest.fail(f"the queue was not applied: {(await m.get_stats())['invalidations']}")
                try:
                    await m.get("k")  # any call drains the queue once Redis answers
                except (RedisConnectionError, CacheTimeoutError):
                    pass
                await asyncio.sleep(0.05)
            st = (await m.get_stats())["invalidations"]
            assert st["applied"] == 2 and st["dropped"] == 1, st
            assert await other.get("k") is None and await other.get("t") is None
    asyncio.run(go())
