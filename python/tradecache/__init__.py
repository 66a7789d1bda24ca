"""tradecache for Python: the same envelope, keys and TTL policies as the
Go library, so that Python and Go services share one Redis cache.

    from tradecache import CacheManager
    cache = CacheManager.from_env()            # REDIS_* and CACHE_* as in Go
    await cache.set("market_data", "AAPL", quote)
    quote = await cache.get("market_data", "AAPL")
"""

from .envelope import (EnvelopeError, Key, Keyring, Stamp, TcTime, canonical, decode, decode_stamped,
                       encode)

__all__ = ["EnvelopeError", "Key", "Keyring", "Stamp", "TcTime", "canonical", "decode", "decode_stamped",
           "encode"]
__version__ = "0.1.0"
