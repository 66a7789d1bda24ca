"""The usage examples of the layer tradecache replaced, as its
documentation shows them (shared/reference: "Redis Caching Layer
Documentation"), unchanged but for the imports: `from
src.infrastructure.cache import ...` is `from tradecache import ...`.
test_old_layer.py runs each against a real redis-server. The stand-ins
the examples assume (external_api, portfolio_service,
expensive_computation, MetricsCollector) are defined at the end."""

import logging
from datetime import datetime
from decimal import Decimal

from tradecache import CacheConfig, CacheEnvironment  # noqa: F401  (as the docs import them)
from tradecache import CacheManager
from tradecache import cache_market_data, cache_result
from tradecache import CircuitBreaker
from tradecache import RedisCache, get_cache_config


# --- Programmatic Configuration ------------------------------------------

def programmatic_configuration():
    config = CacheConfig.from_env(environment="production")
    config.validate()  # Ensures configuration is valid
    return config


# --- Basic Operations ----------------------------------------------------

async def basic_usage():
    cache_manager = CacheManager()

    async with cache_manager:
        # Set value with TTL
        await cache_manager.set("key", {"value": 123}, ttl=300)

        # Get value
        result = await cache_manager.get("key", default={})

        # Check existence
        exists = await cache_manager._redis_cache.exists("key")

        # Delete value
        deleted = await cache_manager.delete("key")
    return result, exists, deleted


# --- Decorator-Based Caching ----------------------------------------------

@cache_market_data(ttl=60)
async def fetch_stock_price(symbol: str):
    # Expensive API call
    return await external_api.get_price(symbol)


@cache_result(ttl=300, namespace="portfolio")
async def calculate_portfolio_value(portfolio_id: str):
    # Complex calculation
    return await portfolio_service.calculate_value(portfolio_id)


async def decorator_usage():
    # Usage - automatically cached
    price = await fetch_stock_price("AAPL")
    value = await calculate_portfolio_value("portfolio_123")
    return price, value


# --- Trading-Specific Operations ------------------------------------------

async def trading_operations():
    cache_manager = CacheManager()

    async with cache_manager:
        # Cache market data
        market_data = {
            "price": Decimal("150.00"),
            "volume": 1000000,
            "timestamp": datetime.now()
        }
        await cache_manager.cache_market_data("AAPL", market_data, "quote")

        # Cache portfolio calculation
        portfolio_result = {
            "total_value": Decimal("100000.00"),
            "total_pnl": Decimal("5000.00")
        }
        await cache_manager.cache_portfolio_calculation(
            "portfolio_123", "value", portfolio_result
        )

        # Cache risk metrics
        risk_metrics = {
            "var_95": Decimal("1000.00"),
            "beta": Decimal("1.2")
        }
        await cache_manager.cache_risk_calculation(
            "portfolio_123", "var", risk_metrics
        )


# --- Batch Operations ------------------------------------------------------

async def batch_operations():
    cache_manager = CacheManager()

    async with cache_manager:
        # Set multiple keys
        data = {
            "stock_1": {"price": Decimal("100.00")},
            "stock_2": {"price": Decimal("200.00")},
            "stock_3": {"price": Decimal("300.00")}
        }
        await cache_manager.set_many(data, ttl=300)

        # Get multiple keys
        keys = ["stock_1", "stock_2", "stock_3"]
        results = await cache_manager.get_many(keys)

        # Clear namespace
        deleted_count = await cache_manager.clear_namespace("stocks")
    return results, deleted_count


# --- Accessing Metrics -----------------------------------------------------

async def monitor_cache():
    cache_manager = CacheManager()

    async with cache_manager:
        stats = await cache_manager.get_stats()

        print(f"Hit Rate: {stats['cache_manager']['hit_rate']:.2%}")
        print(f"Avg Latency: {stats['cache_manager']['avg_latency_ms']:.2f}ms")
        print(f"Error Rate: {stats['cache_manager']['error_rate']:.2%}")
    return stats


# --- Integration with Monitoring Systems ------------------------------------

def monitoring_integration():
    metrics_collector = MetricsCollector()
    cache_manager = CacheManager(metrics_collector=metrics_collector)

    # Metrics are automatically reported to the monitoring system
    return cache_manager, metrics_collector


# --- Circuit Breaker Integration -------------------------------------------

def circuit_breaker_integration():
    circuit_breaker = CircuitBreaker(
        failure_threshold=5,
        timeout=60.0
    )

    cache_manager = CacheManager(circuit_breaker=circuit_breaker)

    # Cache operations are protected by circuit breaker
    return cache_manager


# --- Graceful Degradation --------------------------------------------------

@cache_result(ttl=300)
async def resilient_function(arg):
    # Function continues to work even if cache is unavailable
    return expensive_computation(arg)


# --- Troubleshooting --------------------------------------------------------

async def high_cache_miss_rate(cache_manager):
    # Check if TTL is too short
    config = get_cache_config()
    print(f"Market data TTL: {config.policy.market_data_ttl}s")

    # Monitor key expiration patterns
    stats = await cache_manager.get_stats()
    print(f"Hit rate: {stats['cache_manager']['hit_rate']:.2%}")
    return config


async def high_latency(cache_manager):
    # Check Redis server health
    stats = await cache_manager.get_stats()
    redis_stats = stats['redis']
    print(f"Connected clients: {redis_stats['connected_clients']}")
    print(f"Used memory: {redis_stats['used_memory_human']}")
    return redis_stats


async def connection_issues():
    # Test Redis connectivity
    cache = RedisCache()
    try:
        await cache.connect()
        await cache._client.ping()
        print("Redis connection successful")
        ok = True
    except Exception as e:
        print(f"Redis connection failed: {e}")
        ok = False
    finally:
        await cache.disconnect()
    return ok


def debugging():
    logging.getLogger('src.infrastructure.cache').setLevel(logging.DEBUG)


# --- what the examples assume -------------------------------------------------

class _ExternalAPI:
    def __init__(self):
        self.calls = 0

    async def get_price(self, symbol):
        self.calls += 1
        return {"symbol": symbol, "price": Decimal("150.00")}


class _PortfolioService:
    def __init__(self):
        self.calls = 0

    async def calculate_value(self, portfolio_id):
        self.calls += 1
        return Decimal("100000.00")


class MetricsCollector:
    def __init__(self):
        self.timings = []
        self.counts = {}

    def timing(self, name, seconds, tags=None):
        self.timings.append((name, seconds, tags))

    def increment(self, name, n=1, tags=None):
        self.counts[name] = self.counts.get(name, 0) + n


computations = []


def expensive_computation(arg):
    computations.append(arg)
    return arg * 2


external_api = _ExternalAPI()
portfolio_service = _PortfolioService()
