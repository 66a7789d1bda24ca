"""The Python half of trading/interop_test.go, which starts redis-server,
writes through the Go library and runs:

    interop.py read  REDIS_URL EXPECTED.json   read what Go wrote; exact equality
    interop.py write REDIS_URL                 write for Go to read
    interop.py race  REDIS_URL SYMBOL SEQS     publish quotes at these versions
    interop.py tags  REDIS_URL STEP            tagged values across the languages (see tags())

The environment carries CACHE_KEY_PREFIX and CACHE_ENCRYPTION_KEYS, as a
service's would.
"""

import asyncio
import datetime
import decimal
import json
import os
import sys
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tradecache import CacheManager, Config, TcTime, canonical  # noqa: E402

D = decimal.Decimal


def manager(url):
    cfg = Config.from_env()
    cfg.redis_url = url
    cfg.times = "tctime"  # exact: nanoseconds and zones, as Go wrote them
    cfg.op_timeout = cfg.batch_timeout = 5.0  # what is checked is the values, not speed
    return CacheManager(cfg)


async def read(url, expected_path):
    """Each expected entry: namespace, key, and the canonical form Go meant.
    Prints one line per case; exits 1 on any difference."""
    expected = json.load(open(expected_path))
    failed = 0
    async with manager(url) as c:
        for e in expected:
            try:
                got = canonical(await c.get(e["key"], namespace=e["namespace"]))
                ok = got == e["canonical"]
            except Exception as ex:  # reported as a failed case
                got, ok = f"{type(ex).__name__}: {ex}", False
            failed += not ok
            print(f"go->python  {'exact' if ok else 'DIFFERS'}  {e['name']}" + ("" if ok else f"  got {got} want {e['canonical']}"))
        # The trading layer's values, read with its own calls.
        q = await c.get_market_data("AAPL")
        ok = q["bid"].as_tuple() == D("189.25").as_tuple() and q["seq"] == 42 and q["at"].zone == "America/New_York"
        failed += not ok
        print(f"go->python  {'exact' if ok else 'DIFFERS'}  trading quote via get_market_data  {q}")
        var = await c.get_risk_calculation("P-1", "VaR")
        ok = var is not None and var.as_tuple() == D("-23456.78").as_tuple()
        failed += not ok
        print(f"go->python  {'exact' if ok else 'DIFFERS'}  risk calculation under its generation  {var}")
    sys.exit(1 if failed else 0)


async def write(url):
    """Values for Go to read into typed values (trading/interop_test.go
    holds what it expects)."""
    ny = zoneinfo.ZoneInfo("America/New_York")
    async with manager(url) as c:
        quote = {"symbol": "MSFT", "bid": D("410.10"), "ask": D("410.12"), "bid_size": D("300"), "ask_size": D("0.5"),
                 "seq": 7, "at": TcTime.from_datetime(datetime.datetime(2026, 11, 26, 9, 30, 0, 123456, tzinfo=ny), 789)}
        assert await c.cache_market_data("MSFT", quote, "quote", seq=7)
        await c.set("py:decimal", D("-0.00000001"))
        await c.set("py:big", D("-170141183460469231731687303715884105728.5"))
        await c.set("py:time", TcTime.from_datetime(datetime.datetime(1900, 1, 1, tzinfo=datetime.timezone.utc)))
        await c.set("py:ints", {10: "x", -2: "y", 3: "z"})
        await c.set("py:features", {"momentum": D("0.125"), "as_of": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=ny),
                                               "window": [1, 2, 3]})
        await c.ns("session").set("py-s1", {"id": "py-s1", "user": "quant", "data": {"desk": "rates"},
                                         "created_at": TcTime(1795703400, 5, 0, "")})
        tok = await c.generation("P-2", depends_on=["MSFT"])
        await c.cache_risk_calculation("P-2", "VaR", D("-999.99"), gen=tok)


async def race(url, symbol, seqs):
    async with manager(url) as c:
        for s in seqs:
            await c.cache_market_data(symbol, seq=s, data={"symbol": symbol, "bid": D("1.00"), "ask": D("1.01"),
                                                          "bid_size": D("1"), "ask_size": D("1"), "seq": s,
                                                          "at": TcTime(1795703400, 0, 0, "")})


async def tags(url, step):
    """Step 1: read the value Go tagged "sym:AAPL" (current), invalidate
    the tag, check it is absent, and write one tagged "sym:MSFT" computed
    under tokens read first. Step 2, after Go invalidated "sym:MSFT": the
    Python value reads absent."""
    async with manager(url) as c:
        if step == "1":
            v = await c.get("go-tagged", namespace="risk")
            if v != D("1.50"):
                sys.exit(f"python read Go's tagged value as {v!r}")
            await c.invalidate_tag("sym:AAPL")
            if (v := await c.get("go-tagged", namespace="risk")) is not None:
                sys.exit(f"python still reads {v!r} after invalidate_tag")
            toks = await c.tag_tokens(["sym:MSFT"])
            await c.set("py-tagged", D("2.25"), namespace="risk", tags_as_of=toks)
            n = await c.get_or_load("py-loaded", lambda: asyncio.sleep(0, D("3.00")), namespace="risk", tags=["sym:MSFT"])
            if n != D("3.00") or await c.get("py-loaded", namespace="risk") != D("3.00"):
                sys.exit("python get_or_load with tags")
            print("python: tags step 1 ok")
        else:
            for k in ("py-tagged", "py-loaded"):
                if (v := await c.get(k, namespace="risk")) is not None:
                    sys.exit(f"python still reads {k} = {v!r} after Go invalidated its tag")
            got = await c.get_many(["py-tagged", "py-loaded", "plain"], namespace="risk")
            if got != {"plain": 7}:
                sys.exit(f"python get_many after Go's invalidation: {got}")
            print("python: tags step 2 ok")


def main():
    cmd, url = sys.argv[1], sys.argv[2]
    if cmd == "read":
        asyncio.run(read(url, sys.argv[3]))
    elif cmd == "write":
        asyncio.run(write(url))
    elif cmd == "race":
        asyncio.run(race(url, sys.argv[3], [int(x) for x in sys.argv[4].split(",")]))
    elif cmd == "tags":
        asyncio.run(tags(url, sys.argv[3]))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
