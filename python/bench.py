"""Python's speed beside raw redis-py, in one run, as ratios: decoding a
quote, get_many(100) against MGET + msgpack.unpackb, and get/set at 50
tasks against raw redis.asyncio on the same bytes-sized values. Phases are
interleaved and repeated; each figure is the median of the repetitions.

    make pybench                      # starts its own redis-server on a free loopback port
    python3 bench.py redis://127.0.0.1:PORT
"""

import asyncio
import datetime
import decimal
import os
import statistics
import sys
import time
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import msgpack  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from tradecache import CacheManager, Config, TcTime, envelope  # noqa: E402

D = decimal.Decimal
NY = zoneinfo.ZoneInfo("America/New_York")
REPS = int(os.environ.get("BENCH_REPS", "5"))


def quote(i):
    return {"symbol": f"SYM{i}", "bid": D("189.25"), "ask": D("189.27"), "bid_size": D("300"), "ask_size": D("0.5"),
            "seq": 42 + i, "at": TcTime.from_datetime(datetime.datetime(2026, 11, 26, 9, 30, tzinfo=NY), 789)}


def bench_decode():
    b = envelope.encode(quote(1))
    n = 20000
    t0 = time.perf_counter()
    for _ in range(n):
        envelope.decode(b, times="datetime")
    ours = (time.perf_counter() - t0) / n
    raw = msgpack.packb({"symbol": "SYM1", "bid": "189.25", "ask": "189.27", "bid_size": "300", "ask_size": "0.5",
                         "seq": 43, "at": 1795703400})
    t0 = time.perf_counter()
    for _ in range(n):
        msgpack.unpackb(raw)
    plain = (time.perf_counter() - t0) / n
    return ours, plain


async def bench_get_many(url, m, r):
    keys = [f"q{i}" for i in range(100)]
    await m.set_many({k: quote(i) for i, k in enumerate(keys)}, ttl=600, namespace="market_data")
    rawkeys = [f"raw:q{i}" for i in range(100)]
    await r.mset({k: msgpack.packb({"symbol": k, "bid": "189.25", "ask": "189.27", "bid_size": "300",
                                     "ask_size": "0.5", "seq": 1, "at": 1795703400}) for k in rawkeys})
    n = 300
    t0 = time.perf_counter()
    for _ in range(n):
        await m.get_many(keys, namespace="market_data")
    ours = n * 100 / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(n):
        [msgpack.unpackb(v) for v in await r.mget(rawkeys)]
    raw = n * 100 / (time.perf_counter() - t0)
    return ours, raw


async def bench_get_set(m, r, tasks=50, per=200):
    value = {"price": D("150.00"), "volume": 1000000}
    payload = envelope.encode(value)
    await m.set("gs", value, ttl=600)
    await r.set("raw:gs", payload)

    async def ours_worker():
        for i in range(per):
            if i % 5 == 0:
                await m.set("gs", value, ttl=600)
            else:
                await m.get("gs")

    async def raw_worker():
        for i in range(per):
            if i % 5 == 0:
                await r.set("raw:gs", payload, px=600000)
            else:
                await r.get("raw:gs")

    t0 = time.perf_counter()
    await asyncio.gather(*(ours_worker() for _ in range(tasks)))
    ours = tasks * per / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    await asyncio.gather(*(raw_worker() for _ in range(tasks)))
    raw = tasks * per / (time.perf_counter() - t0)
    return ours, raw


async def main(url):
    m = CacheManager(Config(redis_url=url, max_connections=50, op_timeout=1.0, batch_timeout=2.0,
                            enable_metrics=True, log_slow_ops=False))
    r = aioredis.from_url(url, max_connections=50)
    res = {"decode": [], "get_many": [], "get_set": []}
    for _ in range(REPS):
        res["decode"].append(bench_decode())
        res["get_many"].append(await bench_get_many(url, m, r))
        res["get_set"].append(await bench_get_set(m, r))
    await m.close()
    await r.close()
    med = {k: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v)) for k, v in res.items()}
    # Each repetition's ratio, ours then raw back to back, and their median:
    # a VM's slow second shifts both sides of one repetition alike.
    ratio = {k: statistics.median(a / b for a, b in v) for k, v in res.items()}
    d, p = med["decode"]
    print(f"decode a quote (Decimal, zoned time)  {d * 1e6:6.2f} µs   plain msgpack.unpackb of the same fields "
          f"{p * 1e6:.2f} µs   goal ≤ 3 µs")
    a, b = med["get_many"]
    print(f"get_many(100), 1 task                 {a:9.0f} keys/s   raw MGET + msgpack.unpackb {b:9.0f} keys/s   "
          f"ratio {ratio['get_many']:.2f}   goal ≥ 0.5")
    a, b = med["get_set"]
    print(f"get/set 4:1, 50 tasks                 {a:9.0f} ops/s    raw redis.asyncio          {b:9.0f} ops/s    "
          f"ratio {ratio['get_set']:.2f}   goal ≥ 0.8")
    print(f"({REPS} interleaved repetitions, medians, ratios the median of each repetition's; redis-py {aioredis.__name__} "
          f"{__import__('redis').__version__}, msgpack {'.'.join(map(str, msgpack.version))})")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
