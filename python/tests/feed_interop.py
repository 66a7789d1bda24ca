"""The Python half of trading/feed/python_test.go: subscribe to symbols
published by the Go feed and print each update, and each error the
subscription reports, as a JSON line; end once every symbol reached LAST.

    feed_interop.py REDIS_URL LAST SYMBOL...

It prints {"ready": true} once it holds every symbol's snapshot, so that
the Go side publishes what follows after the subscription began.
"""

import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tradecache import CacheManager, Config, Feed  # noqa: E402


def emit(**kw):
    print(json.dumps(kw), flush=True)


async def main(url, last, symbols):
    cfg = Config.from_env()
    cfg.redis_url = url
    cfg.op_timeout = cfg.batch_timeout = 5.0  # what is checked is the sequence, not speed
    async with CacheManager(cfg) as c:
        f = Feed(c, block=0.05, on_error=lambda e: emit(error=type(e).__name__, msg=str(e)))
        seen = {}
        ready = False
        async with f.subscribe(symbols) as updates:
            async for u in updates:
                q = u.quote
                emit(symbol=u.symbol, version=u.version, seq=q["seq"], bid=str(q["bid"]), id=u.id,
                     snapshot=u.snapshot, resync=u.resync)
                seen[u.symbol] = u.version
                if not ready and all(s in seen for s in symbols):
                    ready = True
                    emit(ready=True)
                if all(seen.get(s, 0) >= last for s in symbols):
                    break
        emit(stats=f.stats())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3:]))
