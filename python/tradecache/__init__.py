"""tradecache for Python: the same envelope, keys, TTL policies, version
guard and tags as the Go library, so that Python and Go
services share one Redis cache; and the API of the Python caching layer
tradecache replaced, so that its code moves with an import change.

    from tradecache import CacheManager, cache_result

    async with CacheManager() as cache:            # REDIS_* and CACHE_*, as in Go
        await cache.set("key", {"value": 123}, ttl=300)
        await cache.cache_market_data("AAPL", {"price": Decimal("150.00"), "seq": 42})
        quote = await cache.get_market_data("AAPL")
"""

from .backend import MemoryBackend, RedisBackend
from .breaker import CircuitBreaker
from .cache import CacheManager, InvalidationQueueFull, Namespace, RedisCache
from .config import (CacheConfig, CacheEnvironment, CachePolicy, Config, get_cache_config)
from .decorators import cache_market_data, cache_result, cached, get_cache_manager, memo_key, set_cache_manager
from .envelope import EnvelopeError, Key, Keyring, Stamp, TcTime, canonical, decode, decode_stamped, encode
from .feed import Feed, Update
from .handle import Handle
from .errors import (BadEntryError, CacheAuthError, CacheCommandError, CacheConfigurationError, CacheError,
                     CacheTimeoutError, CacheUnavailable, CircuitOpenError, ConfigError, InvalidKeyError,
                     NoStreamsError, RedisConnectionError, SerializationError, ValueTooLarge)

__all__ = [
    "BadEntryError", "CacheAuthError", "CacheCommandError", "CacheConfig", "CacheConfigurationError", "CacheEnvironment", "CacheError",
    "CacheManager", "CachePolicy", "CacheTimeoutError", "CacheUnavailable", "CircuitBreaker", "CircuitOpenError",
    "Config", "ConfigError", "EnvelopeError", "Feed", "Handle", "InvalidKeyError", "InvalidationQueueFull", "Key", "Keyring", "MemoryBackend", "Namespace", "NoStreamsError",
    "RedisBackend", "RedisCache", "RedisConnectionError", "SerializationError", "Stamp", "TcTime", "Update", "ValueTooLarge",
    "cache_market_data", "cache_result", "cached", "canonical", "decode", "decode_stamped", "encode",
    "get_cache_config", "get_cache_manager", "memo_key", "set_cache_manager",
]
__version__ = "0.2.0"
