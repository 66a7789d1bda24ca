"""The old layer's documented usage, run unchanged (old_layer_examples.py)
against a real redis-server configured through the environment, as a
service of that layer was."""

import asyncio
import decimal

import pytest

import old_layer_examples as ex
from tradecache import CacheConfigurationError, CacheManager, set_cache_manager


@pytest.fixture
def env(redis_url, monkeypatch):
    for v in ("REDIS_HOST", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS", "CACHE_ENVIRONMENT"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("CACHE_KEY_PREFIX", "oldlayer")
    # These are the old layer's examples, about its API, not the bound: a
    # busy machine (make test runs pytest beside go test -race) once kept
    # the first get of a fresh connection past the 100 ms default.
    monkeypatch.setenv("CACHE_OP_TIMEOUT", "5s")
    set_cache_manager(None)  # decorators make theirs from this environment, in this test's loop
    yield redis_url
    set_cache_manager(None)


def run(coro):
    return asyncio.run(coro)


def test_configuration(env, monkeypatch):
    cfg = ex.programmatic_configuration()
    assert str(cfg.environment) == "production" and cfg.policy.market_data_ttl == 60
    monkeypatch.delenv("REDIS_URL")  # production without an address is refused, never 127.0.0.1:6379
    with pytest.raises(CacheConfigurationError, match="production needs Redis"):
        ex.programmatic_configuration()


def test_basic_usage(env):
    result, exists, deleted = run(ex.basic_usage())
    assert result == {"value": 123} and exists is True and deleted is True


def test_decorators_cache(env):
    async def go():
        first = await ex.decorator_usage()
        second = await ex.decorator_usage()
        from tradecache import get_cache_manager
        await get_cache_manager().close()
        return first, second
    ex.external_api.calls = ex.portfolio_service.calls = 0
    first, second = run(go())
    assert first == second and first[1] == decimal.Decimal("100000.00")
    assert ex.external_api.calls == 1 and ex.portfolio_service.calls == 1  # the second round came from Redis


def test_trading_operations(env):
    async def go():
        await ex.trading_operations()
        async with CacheManager() as c:
            q = await c.get_market_data("AAPL")
            value = await c.get_portfolio_calculation("portfolio_123", "value")
            var = await c.get_risk_calculation("portfolio_123", "var")
            return q, value, var
    q, value, var = run(go())
    assert q["price"] == decimal.Decimal("150.00") and q["timestamp"].tzinfo is not None
    assert value == {"total_value": decimal.Decimal("100000.00"), "total_pnl": decimal.Decimal("5000.00")}
    assert var["beta"] == decimal.Decimal("1.2")


def test_batch_operations(env):
    results, deleted = run(ex.batch_operations())
    assert results["stock_2"] == {"price": decimal.Decimal("200.00")} and deleted == 0


def test_metrics_and_troubleshooting(env, capsys):
    stats = run(ex.monitor_cache())
    assert {"hit_rate", "avg_latency_ms", "error_rate", "p99_latency_ms"} <= set(stats["cache_manager"])

    async def go():
        async with CacheManager() as c:
            await c.get("absent")
            cfg = await ex.high_cache_miss_rate(c)
            redis_stats = await ex.high_latency(c)
            return cfg, redis_stats
    cfg, redis_stats = run(go())
    assert cfg.policy.market_data_ttl == 60 and redis_stats["connected_clients"] >= 1
    assert run(ex.connection_issues()) is True
    assert "Redis connection successful" in capsys.readouterr().out
    ex.debugging()


def test_monitoring_and_breaker_integration(env):
    async def go():
        m, collector = ex.monitoring_integration()
        async with m:
            await m.set("k", 1)
        b = ex.circuit_breaker_integration()
        async with b:
            await b.get("k")
            assert b.breaker.timeout == 60.0 and b.breaker.failure_threshold == 5
        return collector
    assert len(run(go()).timings) >= 1


def test_graceful_degradation(monkeypatch):
    """Redis down: the function runs, its result is returned, nothing is
    raised."""
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")
    monkeypatch.setenv("CACHE_OP_TIMEOUT", "100ms")
    set_cache_manager(None)
    ex.computations.clear()

    async def go():
        out = [await ex.resilient_function(21) for _ in range(3)]
        from tradecache import get_cache_manager
        await get_cache_manager().close()
        return out
    try:
        assert run(go()) == [42, 42, 42] and ex.computations == [21, 21, 21]
    finally:
        set_cache_manager(None)
