"""The decoder on hostile input: every golden vector, mutated many times,
decodes or is refused with EnvelopeError, never another exception, and in
time and memory bounded by its size (the amplification limits)."""

import json
import os
import random
import time

from tradecache import envelope as env

VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "codec", "testdata", "golden", "vectors.json")
KEYS = env.Keyring([env.Key("golden", bytes(range(32)))])


def mutate(r: random.Random, b: bytes) -> bytes:
    b = bytearray(b)
    for _ in range(r.randint(1, 4)):
        op = r.randrange(4)
        if op == 0 and b:
            b[r.randrange(len(b))] = r.randrange(256)
        elif op == 1:
            b.insert(r.randrange(len(b) + 1), r.randrange(256))
        elif op == 2 and b:
            del b[r.randrange(len(b))]
        elif b:
            i = r.randrange(len(b))
            b[i:i] = b[i:i + r.randint(1, 8)] * r.randint(1, 64)
    return bytes(b)


def test_mutated_vectors_are_decoded_or_refused():
    seeds = [bytes.fromhex(v["hex"]) for v in json.load(open(VECTORS))]
    r = random.Random(19)
    worst = 0.0
    for i in range(20000):
        data = mutate(r, r.choice(seeds))
        t0 = time.perf_counter()
        try:
            env.decode(data, storage_key="trading:session:s1", keyring=KEYS)
        except env.EnvelopeError:
            pass
        worst = max(worst, (time.perf_counter() - t0) / max(len(data), 1))
    # Generous for a busy machine: what it catches is a decoder whose cost
    # grows far beyond its input, not a slow moment.
    assert worst < 0.05, f"{worst * 1e6:.0f} µs per input byte"
