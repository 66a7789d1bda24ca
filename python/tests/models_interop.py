"""The Python half of trading/models/models_test.go: a Python model's
predictions read by Go, Go's read by Python, and deployments seen by
both. The environment names Redis (REDIS_URL or REDIS_CLUSTER_ADDRS) and
CACHE_KEY_PREFIX, as a service's would.

    models_interop.py write   predictions of model alpha, version v1, for e0..e49; deploy v1
    models_interop.py check   alpha v1 absent (Go deployed v2); beta v1 exact as Go wrote it;
                              deploy beta v2, and beta v1 absent
"""

import array
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tradecache import CacheManager, Config, TcTime  # noqa: E402

N = 50
ENTITIES = [f"e{i}" for i in range(N)]


def expected(model, i):
    """What Go and Python both compute for entity i: floats that survive
    exactly, float32 rounding included, in both languages."""
    k = 1 if model == "alpha" else 2
    return {"entity": f"e{i}", "score": k * i / 3, "vector": array.array("f", [k * i * 0.1, -i, 1 / (i + 1)]),
            "at": TcTime(1795703400 + i, 5 * k, 0, "")}


def manager():
    cfg = Config.from_env()
    cfg.times = "tctime"
    cfg.op_timeout = cfg.batch_timeout = 5.0  # what is checked is the values, not speed
    return CacheManager(cfg)


async def write():
    async with manager() as c:
        n = await c.put_predictions("alpha", "v1", [expected("alpha", i) for i in range(N)])
        await c.deploy_model("alpha", "v1")
        print(f"python: {n} predictions of alpha v1 written, v1 deployed")


async def check():
    async with manager() as c:
        stale = await c.get_predictions("alpha", "v1", ENTITIES)
        if stale:
            sys.exit(f"python still reads {len(stale)} predictions of alpha v1 after Go deployed v2")
        got = await c.get_predictions("beta", "v1", ENTITIES)
        if len(got) != N:
            sys.exit(f"python reads {len(got)} of Go's {N} predictions of beta v1")
        for i in range(N):
            want, p = expected("beta", i), got[f"e{i}"]
            for k in ("score", "vector", "at", "entity"):
                if p[k] != want[k]:
                    sys.exit(f"beta e{i} {k}: python read {p[k]!r}, Go meant {want[k]!r}")
            if p["model"] != "beta" or p["version"] != "v1" or p["vector"].typecode != "f":
                sys.exit(f"beta e{i}: {p!r}")
        await c.deploy_model("beta", "v2")
        if await c.current_model_version("beta") != "v2":
            sys.exit("beta's current version is not v2")
        left = await c.get_predictions("beta", "v1", ENTITIES)
        if left:
            sys.exit(f"python reads {len(left)} predictions of beta v1 after deploying v2")
        print(f"python: read Go's {N} predictions exactly; alpha v1 and, after deploying v2, beta v1 absent")


if __name__ == "__main__":
    asyncio.run({"write": write, "check": check}[sys.argv[1]]())
