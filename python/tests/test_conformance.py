"""One suite over every backend, as the Go side's store conformance suite
(store/storetest) runs on every store: this process's memory, and Redis
standalone, behind Sentinel and as a Cluster, each on the tests' own
servers. Every test runs through a CacheManager, so that the routing of
each call (a batch across a cluster's slots, the version script by its
keys' slot) is what is checked."""

import asyncio
import dataclasses
import decimal
import time

import pytest

from conftest import RedisServer
from topology import Cluster, SentinelGroup
from tradecache import CacheManager, Config, SerializationError

D = decimal.Decimal


@pytest.fixture(scope="module", params=["memory", "standalone", "sentinel", "cluster"])
def config(request):
    kind = request.param
    base = {"key_prefix": "conf", "op_timeout": 1.0, "batch_timeout": 2.0}
    if kind == "memory":
        yield Config(**base)
        return
    if kind == "standalone":
        srv = RedisServer()
        try:
            yield Config(redis_url=srv.url, **base)
        finally:
            srv.close()
        return
    if kind == "sentinel":
        g = SentinelGroup()
        try:
            yield Config(sentinel_addrs=g.addrs, sentinel_master=SentinelGroup.MASTER, **base)
        finally:
            g.close()
        return
    cl = Cluster()
    try:
        yield Config(cluster_addrs=cl.addrs, **base)
    finally:
        cl.close()


def run(config, body):
    async def go():
        async with CacheManager(config) as m:
            assert m.config.topology == ("memory" if not (config.redis_url or config.sentinel_addrs or config.cluster_addrs)
                                         else config.topology)
            await body(m)
    asyncio.run(go())


def test_get_set_overwrite(config):
    async def body(m):
        ns = m.ns("c1")
        assert await ns.get("missing", "dflt") == "dflt"
        q = {"symbol": "AAPL", "bid": D("189.25"), "seq": 7}
        assert await ns.set("q", q, ttl=60)
        assert await ns.get("q") == q
        assert await ns.set("q", {"symbol": "AAPL", "bid": D("189.30"), "seq": 8}, ttl=60)
        assert (await ns.get("q"))["bid"] == D("189.30")
    run(config, body)


def test_expiry(config):
    async def body(m):
        ns = m.ns("c2")
        await ns.set("short", 1, ttl=0.05)
        deadline = time.monotonic() + 5
        while await ns.get("short") is not None:
            assert time.monotonic() < deadline, "a 50 ms TTL had not expired after 5 s"
            await asyncio.sleep(0.02)
    run(config, body)


def test_batches_across_slots(config):
    async def body(m):
        ns = m.ns("c3")
        items = {f"k{i}": i for i in range(200)}  # on a cluster, every shard's slots
        assert await ns.set_many(items, ttl=60) == 200
        got = await ns.get_many(list(items) + ["absent"])
        assert got == items
        assert await ns.exists("k7") and not await ns.exists("absent")
        assert await ns.delete(*[f"k{i}" for i in range(100)]) == 100
        assert await ns.get_many(list(items)) == {f"k{i}": i for i in range(100, 200)}
    run(config, body)


def test_touch_extends(config):
    async def body(m):
        ns = m.ns("c4")
        await ns.set("s", "v", ttl=0.3)
        for _ in range(4):  # 0.6 s in all: past the first TTL, kept by each touch
            await asyncio.sleep(0.15)
            assert await ns.touch("s", ttl=0.3) == "v"
        assert await ns.touch("gone", ttl=1) is None
    run(config, body)


def test_version_guard(config):
    async def body(m):
        assert await m.cache_market_data("MSFT", {"bid": D("410.10")}, seq=5)
        assert not await m.cache_market_data("MSFT", {"bid": D("409.00")}, seq=4)
        assert not await m.cache_market_data("MSFT", {"bid": D("409.00")}, seq=5)
        assert (await m.get_market_data("MSFT"))["bid"] == D("410.10")
        assert await m.cache_market_data("MSFT", {"bid": D("410.20")}, seq=6)
    run(config, body)


def test_clear_namespace_is_its_own(config):
    async def body(m):
        a, b = m.ns("c6a"), m.ns("c6b")
        await a.set_many({f"x{i}": i for i in range(50)}, ttl=60)
        await b.set("keep", 1, ttl=60)
        assert await m.clear_namespace("c6a") == 50
        assert await a.get_many([f"x{i}" for i in range(50)]) == {}
        assert await b.get("keep") == 1
    run(config, body)


def test_sessions(config):
    async def body(m):
        assert await m.cache_user_session("u1", {"user": "ada"}, ttl=60)
        assert await m.get_user_session("u1") == {"user": "ada"}
        assert await m.extend_user_session("u1", ttl=60)
        assert await m.invalidate_user_session("u1")
        assert await m.get_user_session("u1") is None
        assert not await m.extend_user_session("u1")
    run(config, body)


def test_one_load_per_key(config):
    async def body(m):
        calls = 0

        async def load():
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)
            return {"var": D("1.25")}

        got = await asyncio.gather(*(m.get_or_load("VaR", load, ttl=60, namespace="c8") for _ in range(20)))
        assert calls == 1 and all(g == {"var": D("1.25")} for g in got)
        assert await m.get_or_load("VaR", load, ttl=60, namespace="c8") == {"var": D("1.25")} and calls == 1
    run(config, body)


@dataclasses.dataclass
class Level:
    price: decimal.Decimal
    size: decimal.Decimal


@dataclasses.dataclass
class Book:
    symbol: str
    seq: int
    best: Level
    bid_size: decimal.Decimal = dataclasses.field(default=D(0), metadata={"tradecache": "bid_size"})


def test_typed_handle(config):
    """cache.of(Type, namespace) reads and writes values of one type, under
    the namespace's keys: what the namespace reads is the map of fields."""
    async def body(m):
        books = m.of(Book, "c-typed")
        b = Book("AAPL", 7, Level(D("150.00"), D("300")), D("12.5"))
        assert await books.set("AAPL", b)
        assert await books.set_many({"MSFT": Book("MSFT", 8, Level(D("410.10"), D("1")))}) == 1
        got = await books.get("AAPL")
        assert got == b and got.best.price.as_tuple().exponent == -2
        assert await books.get("NOPE") is None
        many = await books.get_many(["AAPL", "MSFT", "NOPE"])
        assert set(many) == {"AAPL", "MSFT"} and many["MSFT"].best.price == D("410.10")
        raw = await m.ns("c-typed").get("AAPL")
        assert raw == {"symbol": "AAPL", "seq": 7, "best": {"price": D("150.00"), "size": D("300")}, "bid_size": D("12.5")}
        calls = []

        async def load():
            calls.append(1)
            return b
        assert await books.get_or_load("L", load) == b
        assert await books.get_or_load("L", load) == b and len(calls) == 1
        await m.ns("c-typed").set("BAD", [1, 2])
        with pytest.raises(SerializationError):
            await books.get("BAD")
        with pytest.raises(SerializationError):
            await books.set("X", {"symbol": "not a Book"})
        assert await books.delete("AAPL", "MSFT") == 2
    run(config, body)
