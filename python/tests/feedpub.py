"""Publications written the way the Go feed's publish script writes them,
for the Python feed's tests (test_feed.py, test_topologies.py)."""

import asyncio
import decimal

from tradecache import keyslot
from tradecache.config import NAMESPACE_MARKET_DATA

D = decimal.Decimal

# One publication in one step, as the Go feed's publish script makes it
# (without its version guard, retention or expiry, which are not tested here).
PUBLISH = """
local id = redis.call("XADD", KEYS[3], "*", "v", ARGV[1], "d", ARGV[2], "p", ARGV[3])
redis.call("SET", KEYS[1], ARGV[2], "PX", 60000)
redis.call("SET", KEYS[2], ARGV[1] .. " " .. id, "PX", 60000)
return id"""


async def publish(m, symbol, seq, prev=None):
    """One publication as the Go feed's script writes it; prev overrides
    the chain (the previous entry's ID, from the version key)."""
    r = m.redis
    full = m.key(NAMESPACE_MARKET_DATA, f"{symbol}:quote")
    ver, stream = keyslot.companion(full, " ver"), keyslot.companion(full, " stream")
    if prev is None:
        cur = await r.get(ver)
        prev = cur.decode()[21:] if cur and len(cur) > 21 else ""
    env = m._encode(NAMESPACE_MARKET_DATA, full, {"symbol": symbol, "bid": D(seq) / 100, "seq": seq})
    return (await r.eval(PUBLISH, 3, full, ver, stream, f"{seq:020d}", env, prev)).decode()


async def take(updates, n, timeout=10.0):
    out = []
    async def go():
        async for u in updates:
            out.append(u)
            if len(out) == n:
                return
    await asyncio.wait_for(go(), timeout)
    return out
