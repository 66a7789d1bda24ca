"""Checks the golden vectors with the Python package (python/tradecache),
then writes envelopes for the Go side to read. Run by codec/python_test.go:

    /usr/bin/python3 check_golden.py VECTORS.json OUT.json

Exits non-zero, naming each failure, if any vector decodes differently.
"""

import array
import datetime
import decimal
import json
import os
import sys
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))
from tradecache import envelope as env  # noqa: E402

GOLDEN_KEYS = env.Keyring([env.Key("golden", bytes(range(32)))])


def check_vectors(path):
    failures = []
    vectors = json.load(open(path))
    for v in vectors:
        data = bytes.fromhex(v["hex"])
        want_error = v.get("error")
        if v["name"] == "s2":
            want_error = "unsupported"  # s2 is Go-only, by design
        try:
            got, stamp, tags = env.decode_meta(data, storage_key=v.get("storage_key", ""), keyring=GOLDEN_KEYS)
        except env.EnvelopeError as e:
            if e.kind != want_error:
                failures.append(f"{v['name']}: {e} (want {want_error or 'a value'})")
            continue
        if want_error:
            failures.append(f"{v['name']}: decoded {got!r}, want error {want_error}")
            continue
        if env.canonical(got) != v["canonical"]:
            failures.append(f"{v['name']}: canonical {env.canonical(got)} != golden {v['canonical']}")
        if "stamp" in v:
            got_stamp = [stamp.as_of_ns, stamp.fresh_for_ns, stamp.load_time_ns, stamp.negative] if stamp else None
            if got_stamp != v["stamp"]:
                failures.append(f"{v['name']}: stamp {got_stamp} != golden {v['stamp']}")
        got_tags = [list(t) for t in tags] if tags else None
        if got_tags != v.get("tags"):
            failures.append(f"{v['name']}: tags {got_tags} != golden {v.get('tags')}")
        check_python_types(v["name"], got, failures)
        if not v.get("decode_only") and v["name"] != "quote":
            # Python writes the same bytes Go wrote, for every vector that
            # pins them (not compressed, not sealed). A Go struct's fields
            # are in declaration order, a Python dict's keys sorted: the
            # quote decodes the same either way.
            again = env.encode(got, compression="none", stamp=stamp, tags=tags)
            if again != data:
                failures.append(f"{v['name']}: Python wrote {again.hex()}, Go {data.hex()}")
    return len(vectors), failures


def check_python_types(name, got, failures):
    """Beyond the canonical form: the Python values are the natural ones."""
    for x in walk(got):
        if isinstance(x, env.TcTime):
            dt = x.datetime
            if dt.utcoffset() != datetime.timedelta(seconds=x.offset):
                failures.append(f"{name}: datetime offset {dt.utcoffset()} != {x.offset}s")
            if x.zone and (getattr(dt.tzinfo, "key", None) or dt.tzname()) != x.zone:
                failures.append(f"{name}: datetime zone {dt.tzinfo} != {x.zone}")
    if name == "decimal 150.00" and str(got) != "150.00":
        failures.append(f"{name}: str(Decimal) = {got}, want 150.00 (scale lost)")
    if name == "decimal 0E-8" and (str(got) != "0E-8" or got.as_tuple().exponent != -8):
        failures.append(f"{name}: {got!r}, want Decimal('0E-8')")
    if name == "time New York EST" and got.datetime.strftime("%H:%M %Z") != "09:30 EST":
        failures.append(f"{name}: {got.datetime}")
    if name == "time IST abbreviation" and got.datetime.tzname() != "IST":
        failures.append(f"{name}: {got.datetime.tzname()}, want IST")


def walk(v):
    yield v
    if isinstance(v, dict):
        for x in v.values():
            yield from walk(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x)


def canonical_input(v):
    """The canonical form of a Python input value, computed without the
    envelope code, so the Go side checks an independent expectation."""
    if isinstance(v, datetime.datetime):
        off = int(v.utcoffset().total_seconds())
        delta = v - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        zone = getattr(v.tzinfo, "key", "") or ""
        return {"$time": [delta.days * 86400 + delta.seconds, delta.microseconds * 1000, off, zone]}
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v):
            return {k: canonical_input(x) for k, x in v.items()}
        return {"$map": [[k, canonical_input(v[k])] for k in sorted(v)]}
    if isinstance(v, list):
        return [canonical_input(x) for x in v]
    if isinstance(v, array.array):
        return {"$vector32" if v.typecode == "f" else "$vector64": list(v)}
    return env.canonical(v)


def python_written():
    ny = zoneinfo.ZoneInfo("America/New_York")
    D = decimal.Decimal
    values = {
        "decimal 150.00": D("150.00"),
        "decimal 0E-8": D("0E-8"),
        "decimal big negative": D("-12345678901234567890.123456789"),
        "decimal 1E+3": D("1E+3"),
        "decimal -2^63": D(-(1 << 63)),
        "time New York": datetime.datetime(2026, 11, 26, 9, 30, 0, 123456, tzinfo=ny),
        "time Lisbon (named, not in the table)": datetime.datetime(2026, 7, 1, 9, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Lisbon")),
        "time UTC": datetime.datetime(2026, 11, 26, 14, 30, tzinfo=datetime.timezone.utc),
        "time +05:30": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30))),
        "time 1900": datetime.datetime(1900, 1, 1, tzinfo=datetime.timezone.utc),
        "quote": {"symbol": "MSFT", "bid": D("410.10"), "ask": D("410.12"), "last": D("410.11"), "volume": 300,
                  "ts": datetime.datetime(2026, 11, 26, 14, 30, 0, 5, tzinfo=datetime.timezone.utc)},
        "list": ["a", 1, -2, 1.5, None, True, D("-0.0001")],
        "int keys": {10: "x", -2: "y", 3: "z"},
        "bytes": b"\x00\xc1raw",
        "zstd": "MSFT 410.10;" * 300,
        # 256 KiB that zstd shrinks about 1000 times: padded with a skippable
        # frame to 1/256 of the payload, the reader's expansion bound
        "zstd padded": "trading " * (1 << 15),
        "vector32": array.array("f", [1.5, -2.25, 0.0, 3.4028234663852886e38]),
        "vector64": array.array("d", [3.141592653589793, -1e-300]),
    }
    out = []
    for name, v in values.items():
        data = env.encode(v, compress_threshold=256 if name.startswith("zstd") else -1)
        if name.startswith("zstd") and (data[0] >> 1) & 3 != 1:
            raise SystemExit(f"the {name} value was not compressed")
        if name == "zstd padded" and not (1 << 10) <= len(data) <= (64 << 10):
            raise SystemExit(f"the zstd padded value is {len(data)} bytes, want 1-64 KiB")
        out.append({"name": name, "hex": data.hex(), "canonical": canonical_input(v)})
    return out


def main():
    vectors, out = sys.argv[1], sys.argv[2]
    n, failures = check_vectors(vectors)
    for f in failures:
        print("FAIL", f)
    json.dump({"zone_table": list(env.ZONE_TABLE), "values": python_written()}, open(out, "w"), indent=1)
    print(f"python: {n} golden vectors checked, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
