"""tradecache for Python: the same envelope, keys, TTL policies, version
guard and generation tokens as the Go library, so that Python and Go
services share one Redis cache.

    from tradecache import CacheManager

    async with CacheManager.from_env() as cache:      # REDIS_* and CACHE_*, as in Go
        await cache.cache_market_data("AAPL", "quote", seq, quote)
        quote = await cache.get_market_data("AAPL")
"""

from .cache import (CacheError, CacheManager, CacheUnavailable, InvalidKeyError, ValueTooLarge, cached)
from .config import Config, ConfigError
from .envelope import EnvelopeError, Key, Keyring, Stamp, TcTime, canonical, decode, decode_stamped, encode

__all__ = [
    "CacheError", "CacheManager", "CacheUnavailable", "Config", "ConfigError", "EnvelopeError", "InvalidKeyError",
    "Key", "Keyring", "Stamp", "TcTime", "ValueTooLarge", "cached", "canonical", "decode", "decode_stamped", "encode",
]
__version__ = "0.1.0"
