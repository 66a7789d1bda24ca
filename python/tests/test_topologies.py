"""Sentinel failover and Cluster master kill from Python, against the
tests' own servers: no wrong value, every call bounded, and the same
CacheManager serving again after the failover."""

import asyncio
import time

import pytest

from feedpub import publish, take
from topology import Cluster, SentinelGroup
from tradecache import CacheManager, CacheTimeoutError, Config, Feed, RedisConnectionError, CacheCommandError


async def _through_failover(m, kill, keys, seconds=20.0):
    """Write a rising version of every key, kill, keep writing and reading
    until writes succeed again for a second. Returns (calls, failures,
    worst call, seconds to recover). A read must be a value written for
    that key, never another's or an older one than the last acknowledged
    read (a write lost with the old master may go back)."""
    written = {k: 0 for k in keys}
    last_errors = {}
    for k in keys:
        await m.set(k, f"{k}={0}")
    killed_at = None
    worst, calls, failures, recovered_at, ok_since = 0.0, 0, 0, None, None
    start = time.monotonic()
    gen = 0
    while time.monotonic() - start < seconds:
        gen += 1
        if gen == 20:
            kill()
            killed_at = time.monotonic()
        for k in keys:
            calls += 1
            t0 = time.perf_counter()
            try:
                await m.set(k, f"{k}={gen}")
                written[k] = gen
                v = await m.get(k)
                assert v is None or v.startswith(f"{k}="), f"wrong value {v!r} under {k}"
                assert int(v.split("=")[1]) <= gen
                ok = True
            except (RedisConnectionError, CacheTimeoutError, CacheCommandError) as e:
                failures += 1
                ok = False
                last_errors[type(e).__name__] = str(e)[:200]
            worst = max(worst, time.perf_counter() - t0)
            if killed_at is not None:
                if ok and ok_since is None:
                    ok_since = time.monotonic()
                elif not ok:
                    ok_since = None
        if ok_since is not None and time.monotonic() - ok_since > 1.0:
            recovered_at = ok_since
            break
        await asyncio.sleep(0.01)
    print("last errors:", last_errors)
    return calls, failures, worst, (recovered_at - killed_at) if recovered_at and killed_at else None


def test_sentinel_failover():
    g = SentinelGroup()

    async def go():
        cfg = Config(sentinel_addrs=g.addrs, sentinel_master=SentinelGroup.MASTER, key_prefix="pysent",
                     op_timeout=0.5, breaker_open_timeout=0.2)
        async with CacheManager(cfg) as m:
            calls, failures, worst, took = await _through_failover(m, g.master.kill, [f"s{i}" for i in range(10)])
            print(f"sentinel failover: {calls} calls, {failures} failed, slowest {worst * 1000:.0f} ms, "
                  f"writes steady {took} s after the kill")
            assert took is not None, "no recovery within 20 s of the master's kill"
            assert g.master_port() == g.replica.port
            assert worst < 3.0, f"a call took {worst:.2f} s"
    try:
        asyncio.run(go())
    finally:
        g.close()


def test_cluster_master_kill():
    cl = Cluster()

    async def go():
        cfg = Config(cluster_addrs=cl.addrs, key_prefix="pyclus", op_timeout=0.5, batch_timeout=1.0,
                     breaker_open_timeout=0.2)
        async with CacheManager(cfg) as m:
            keys = [f"c{i}" for i in range(30)]
            await m.set_many({k: i for i, k in enumerate(keys)})
            assert await m.get_many(keys) == {k: i for i, k in enumerate(keys)}
            assert await m.clear_namespace("default") == 30
            # The feed on a cluster: symbols on different slots, each read
            # from its own node.
            syms = ["CA", "CB", "CC", "CD"]
            for s in syms:
                await publish(m, s, 1)
            async with Feed(m, block=0.05).subscribe(syms) as updates:
                assert sorted((u.symbol, u.version) for u in await take(updates, 4)) == [(s, 1) for s in syms]
                for s in syms:
                    await publish(m, s, 2)
                assert sorted((u.symbol, u.version, u.snapshot) for u in await take(updates, 4)) == \
                    [(s, 2, False) for s in syms]
            victim = cl.masters()[0]
            calls, failures, worst, took = await _through_failover(m, victim.kill, keys)
            print(f"cluster master kill: {calls} calls, {failures} failed, slowest {worst * 1000:.0f} ms, "
                  f"writes steady {took} s after the kill")
            assert took is not None, "no recovery within 20 s of a master's kill"
            assert worst < 3.0, f"a call took {worst:.2f} s"
            assert await m.cache_market_data("AAPL", {"seq": 5})  # the version script, routed by its keys' slot
            assert not await m.cache_market_data("AAPL", {"seq": 4})
    try:
        asyncio.run(go())
    finally:
        cl.close()
