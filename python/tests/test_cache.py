import asyncio
import base64
import decimal
import os

import pytest

from tradecache import (CacheManager, CacheUnavailable, Config, ConfigError, EnvelopeError, InvalidKeyError, Keyring,
                        ValueTooLarge, cached)

D = decimal.Decimal


def run(coro):
    return asyncio.run(coro)


def manager(redis_url, **kw):
    cfg = Config(redis_url=redis_url, key_prefix=kw.pop("key_prefix", "pytest"), **kw)
    return CacheManager(cfg)


def test_get_set_many_delete_exists_clear(redis_url):
    async def go():
        async with manager(redis_url) as c:
            assert await c.set("AAPL", {"bid": D("150.00")}, namespace="market_data")
            assert (await c.ns("market_data").get("AAPL"))["bid"].as_tuple() == D("150.00").as_tuple()
            assert await c.get("nope", default="absent", namespace="market_data") == "absent"
            assert await c.set_many({"a": 1, "b": 2}, namespace="risk") == 2
            assert await c.ns("risk").get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
            assert await c.exists("a", namespace="risk") and not await c.ns("risk").exists("c")
            assert await c.ns("risk").delete("a", "c") == 1
            ttl = await c.redis.pttl("pytest:risk:b")
            assert 170_000 < ttl <= 180_000  # the risk policy, 180 s
            assert await c.clear_namespace("risk") == 1
            assert await c.clear_namespace("market_data") == 1
            stats = await c.get_stats()
            assert stats["namespaces"]["market_data"]["hits"] == 1 and stats["cache_manager"]["misses"] >= 2
            h = await c.health_check()
            assert h["healthy"] and h["ping_latency_ns"] > 0
    run(go())


def test_bad_input_is_refused_before_anything_is_sent(redis_url):
    async def go():
        async with manager(redis_url, max_value_bytes=1000) as c:
            for ns, key in [("bad ns", "k"), ("market_data", "has space"), ("market_data", ""), ("a:b", "k")]:
                with pytest.raises(InvalidKeyError):
                    await c.set(key, 1, namespace=ns)
            for keys in (["ok", "has space"], ["ok", ""], ["ok", "x" * 2000], ["ok", 7], ["ok", "tab\there"], ["é", "ok"]):
                if keys[0] == "é":  # a valid non-ASCII key takes the long way, and passes
                    assert await c.get_many(keys, namespace="market_data") == {}
                    continue
                with pytest.raises(InvalidKeyError):
                    await c.get_many(keys, namespace="market_data")
            with pytest.raises(ValueTooLarge):
                await c.set("big", os.urandom(5000))
            with pytest.raises(ValueTooLarge):  # one bad value: nothing of the batch is written
                await c.set_many({"ok": 1, "big": os.urandom(5000)})
            assert not await c.exists("ok")
    run(go())


def test_corrupt_values_are_never_served(redis_url):
    async def go():
        async with manager(redis_url) as c:
            await c.redis.set("pytest:default:bad", b"\x10\xd4\x07\x00")
            with pytest.raises(EnvelopeError):
                await c.get("bad")
            assert (await c.get_stats())["cache_manager"]["errors"] == 1
    run(go())


def test_version_guard(redis_url):
    async def go():
        async with manager(redis_url) as c:
            assert await c.cache_market_data("MSFT", {"symbol": "MSFT", "seq": 5})
            assert not await c.cache_market_data("MSFT", {"symbol": "MSFT", "seq": 4}, "quote")
            assert not await c.cache_market_data("MSFT", {"symbol": "MSFT", "seq": 5})
            assert (await c.get_market_data("MSFT"))["seq"] == 5
            assert await c.cache_market_data("MSFT", {"seq": 1 << 63})
            with pytest.raises(ValueError):
                await c.cache_market_data("MSFT", {}, seq=0)
            with pytest.raises(ValueError):
                await c.cache_market_data("MSFT", {"seq": 9}, "candle")
    run(go())


def test_generation_tokens(redis_url):
    async def go():
        async with manager(redis_url) as c:
            tok = await c.generation("P-1", depends_on=["AAPL"])
            await c.cache_risk_calculation("P-1", "VaR", D("-123.45"), gen=tok)
            assert await c.get_risk_calculation("P-1", "VaR") == D("-123.45")
            await c.invalidate_symbol("AAPL")
            assert await c.get_risk_calculation("P-1", "VaR") is None
            tok = await c.generation("P-1")
            await c.cache_portfolio_calculation("P-1", "value", D("1000.50"), gen=tok)
            assert await c.get_portfolio_calculation("P-1", "value") == D("1000.50")
            await c.invalidate_portfolio("P-1")
            assert await c.get_portfolio_calculation("P-1", "value") is None
    run(go())


def test_cached_decorator(redis_url):
    async def go():
        async with manager(redis_url) as c:
            calls = []

            @cached(c, namespace="default", ttl=30)
            async def price(symbol, scale=2):
                calls.append(symbol)
                return D("1.50")

            assert await price("AAPL") == D("1.50")
            assert await price("AAPL") == D("1.50")
            assert await price("MSFT") == D("1.50")
            assert calls == ["AAPL", "MSFT"]
    run(go())


def test_sealed_session_namespace(redis_url):
    key = base64.b64encode(bytes(range(32))).decode()

    async def go():
        ring = Keyring.parse(f"k1:{key}")
        async with manager(redis_url, keyring=ring) as c:
            await c.set("s1", {"user": "u1"}, namespace="session")
            raw = await c.redis.get("pytest:session:s1")
            assert raw[0] & 1 and b"u1" not in raw  # sealed: nothing readable in Redis
            assert await c.ns("session").get("s1") == {"user": "u1"}
            await c.redis.set("pytest:session:s2", raw)  # copied under another key
            with pytest.raises(EnvelopeError):
                await c.ns("session").get("s2")
    run(go())


def test_config_from_env():
    cfg = Config.from_env(environ={"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6390", "CACHE_MARKET_DATA_TTL": "250ms",
                           "CACHE_RISK_TTL": "90", "CACHE_KEY_PREFIX": "desk"})
    assert cfg.ttl_for("market_data") == 0.25 and cfg.ttl_for("risk") == 90 and cfg.ttl_for("other") == 3600
    assert cfg.redis_port == 6390
    for bad in ({"CACHE_COMPRESSION": "s2"}, {"CACHE_KEY_PREFIX": "a:b"}, {"REDIS_PORT": "x"},
                {"CACHE_RISK_TTL": "soon"}, {"CACHE_ENCRYPTION_KEYS": "k:short"}):
        with pytest.raises(ConfigError):
            Config.from_env(environ=bad)


def test_unreachable_redis_is_said():
    async def go():
        async with CacheManager(Config(redis_host="127.0.0.1", redis_port=1, op_timeout=0.2)) as c:
            with pytest.raises(CacheUnavailable):
                await c.get("k")
            assert not (await c.health_check())["healthy"]
    run(go())


def test_settings_are_the_go_librarys():
    """Every variable Python reads is one the Go library documents, for the
    same field name (docs/configuration.md's tables)."""
    import os
    import re

    from tradecache.config import SETTINGS

    doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "configuration.md")).read()
    documented = set(re.findall(r"^\| `((?:REDIS|CACHE)_[A-Z_]+)`(?:, `((?:REDIS|CACHE)_[A-Z_]+)`)? \|", doc, re.M))
    documented = {v for pair in documented for v in pair if v}
    for var, attr, _ in SETTINGS:
        assert var in documented, f"{var} is not a variable the Go library documents"
        assert hasattr(Config(), attr)
    assert "CACHE_ENCRYPTION_KEYS" in documented
    # and every documented one is read here or named as Go's alone
    from tradecache.config import KNOWN_VARIABLES
    assert documented <= KNOWN_VARIABLES, f"documented but unknown to Python: {sorted(documented - KNOWN_VARIABLES)}"
    assert KNOWN_VARIABLES <= documented, f"known to Python, not documented: {sorted(KNOWN_VARIABLES - documented)}"


def test_prometheus_collector(redis_url):
    from prometheus_client import CollectorRegistry, generate_latest

    from tradecache.prometheus import CacheCollector

    async def go():
        async with manager(redis_url) as c:
            await c.set("p", 1, namespace="risk")
            await c.get("p", namespace="risk")
            await c.get("absent", namespace="risk")
            reg = CollectorRegistry()
            reg.register(CacheCollector(c))
            return generate_latest(reg).decode()
    text = run(go())
    assert 'tradecache_hits_total{namespace="risk"} 1.0' in text
    assert 'tradecache_misses_total{namespace="risk"} 1.0' in text
    assert 'tradecache_operation_latency_seconds{op="get",quantile="0.99"}' in text
    assert "tradecache_breaker_open 0.0" in text


def test_tags(redis_url):
    """Tagged values read as absent once any of their tags is invalidated,
    by set, set_many and get_or_load alike; untagged and otherwise tagged
    values stay; a value computed across an invalidation is not current."""
    async def go():
        async with manager(redis_url, key_prefix="pytags") as c:
            await c.set("var", D("-1.00"), namespace="risk", tags=["sym:AAPL"])
            await c.set_many({"a": 1, "b": 2}, namespace="analytics", tags=["sym:AAPL", "refdata"])
            await c.set("msft", 3, namespace="analytics", tags=["sym:MSFT"])
            await c.set("plain", 4, namespace="analytics")
            loads = []

            async def load():
                loads.append(1)
                return D("5.00")

            assert await c.get_or_load("beta", load, namespace="risk", tags=["sym:AAPL"]) == D("5.00")
            assert await c.get_or_load("beta", load, namespace="risk", tags=["sym:AAPL"]) == D("5.00") and len(loads) == 1
            assert await c.get("var", namespace="risk") == D("-1.00")
            await c.invalidate_tag("sym:AAPL")
            assert await c.get("var", namespace="risk") is None
            assert await c.ns("analytics").get_many(["a", "b", "msft", "plain"]) == {"msft": 3, "plain": 4}
            assert await c.get_or_load("beta", load, namespace="risk", tags=["sym:AAPL"]) == D("5.00") and len(loads) == 2
            # Tokens read, then the tag invalidated, then the value written: not current.
            toks = await c.tag_tokens(["sym:MSFT"])
            await c.invalidate_tag("sym:MSFT")
            await c.set("late", 6, namespace="analytics", tags_as_of=toks)
            assert await c.get("late", namespace="analytics") is None
            with pytest.raises(ValueError):
                await c.set("x", 1, tags=["has space"])
    run(go())


def test_model_predictions_and_vectors(redis_url):
    """Predictions keep their float32 vectors exactly; deploying a new
    version makes the old version's predictions absent."""
    import array

    async def go():
        async with manager(redis_url, key_prefix="pymodels") as c:
            vec = array.array("f", [0.1, -2.5, 3.25])
            await c.put_predictions("alpha", "v1", [{"entity": "AAPL", "score": 0.72, "vector": vec}])
            await c.deploy_model("alpha", "v1")
            got = await c.get_predictions("alpha", "v1", ["AAPL", "MSFT"])
            assert list(got) == ["AAPL"] and got["AAPL"]["vector"] == vec and got["AAPL"]["vector"].typecode == "f"
            await c.put_features("momentum", "v1", {"AAPL": array.array("d", [1.0, 2.0])})
            assert (await c.get_features("momentum", "v1", ["AAPL"]))["AAPL"] == array.array("d", [1.0, 2.0])
            await c.deploy_model("alpha", "v2")
            assert await c.current_model_version("alpha") == "v2"
            assert await c.get_predictions("alpha", "v1", ["AAPL"]) == {}
            with pytest.raises(ValueError):
                await c.put_predictions("al:pha", "v1", [])
    run(go())
