import base64
import datetime
import decimal
import zoneinfo

import msgpack
import pytest

from tradecache import envelope as env
from tradecache.envelope import EnvelopeError, Key, Keyring, TcTime

D = decimal.Decimal
NY = zoneinfo.ZoneInfo("America/New_York")


def roundtrip(v, **kw):
    return env.decode(env.encode(v, **kw), **{k: kw[k] for k in ("storage_key", "keyring") if k in kw})


@pytest.mark.parametrize("text", ["150.00", "0E-8", "-0.0001", "1E+3", "-9223372036854775808", "9223372036854775808",
                                  "12345678901234567890.123456789", "-170141183460469231731687303715884105728"])
def test_decimals_keep_coefficient_and_exponent(text):
    got = roundtrip(D(text))
    assert got.as_tuple() == D(text).as_tuple()
    assert str(got) == str(D(text))


def test_decimal_forms_and_fewest_bytes():
    assert env.encode(D("150.00")).hex() == "10d5123a98"
    assert env.encode(D("1000000000000000000")).hex() == "10d7100de0b6b3a7640000"  # 19 digits, 64 bits: scaled
    assert env.encode(D(-(1 << 127))).hex() == "10c71101" + "00" + "80" + "00" * 15  # 16 bytes, not 17
    with pytest.raises(TypeError):
        env.encode(D("NaN"))


def test_times_keep_zone_and_nanoseconds():
    t = TcTime.from_datetime(datetime.datetime(2026, 11, 26, 9, 30, 0, 123456, tzinfo=NY), nanosecond=789)
    got = roundtrip(t)
    assert got == t and got.nanos == 123456789 and got.zone == "America/New_York"
    assert got.datetime.strftime("%H:%M %Z") == "09:30 EST"
    # an aware datetime is written as a time, its zone kept
    got = roundtrip({"ts": datetime.datetime(2026, 7, 1, 9, 30, tzinfo=NY)})
    assert got["ts"].zone == "America/New_York" and got["ts"].offset == -4 * 3600
    # a naive datetime (datetime.now(), as the old layer's examples pass it)
    # is this process's local time, as datetime.timestamp() takes it
    naive = datetime.datetime(2026, 1, 1, 12, 0, 0, 250000)
    got = roundtrip(naive)
    assert got.seconds == int(naive.timestamp()) and got.nanos == 250_000_000
    assert got.offset == int(naive.astimezone().utcoffset().total_seconds())


def test_fixed_zone_names_and_utc():
    ist = datetime.timezone(datetime.timedelta(hours=5, minutes=30), "IST")
    got = roundtrip(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=ist))
    assert got.zone == "IST" and got.datetime.tzname() == "IST"
    unnamed = roundtrip(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(0))))
    assert unnamed.zone == "" and unnamed.datetime.tzinfo is datetime.timezone.utc


def test_maps_are_sorted_so_equal_values_make_equal_bytes():
    a = {"b": 1, "aa": 2, "é": 3, "B": 4}
    b = dict(reversed(list(a.items())))
    assert env.encode(a) == env.encode(b)
    assert env.encode({10: "x", -2: "y", 3: "z"}).hex() == "1083fea179" + "03a17a" + "0aa178"


def test_sealing_with_key_rotation():
    old = Key("k1", bytes(range(32)))
    new = Key("k2", bytes(range(1, 33)))
    sealed_old = env.encode("secret", storage_key="trading:session:s1", keyring=Keyring([old]), seal=True)
    ring = Keyring([new, old])  # k2 seals from now on; k1 still opens
    assert env.decode(sealed_old, storage_key="trading:session:s1", keyring=ring) == "secret"
    sealed_new = env.encode("secret", storage_key="trading:session:s1", keyring=ring, seal=True)
    assert sealed_new[2:4] == b"k2"
    with pytest.raises(EnvelopeError) as e:
        env.decode(sealed_new, storage_key="trading:session:s2", keyring=ring)  # copied under another key
    assert e.value.kind == "tampered"
    with pytest.raises(EnvelopeError) as e:
        env.decode(sealed_new, storage_key="trading:session:s1", keyring=Keyring([old]))
    assert e.value.kind == "unknown_key"
    with pytest.raises(EnvelopeError) as e:
        env.decode(env.encode("plain"), keyring=ring, sealed=True)
    assert e.value.kind == "not_sealed"


def test_keyring_from_env():
    k = base64.b64encode(bytes(32)).decode()
    ring = Keyring.parse(f"new:{k}, old:{k}")
    assert [x.id for x in ring.keys] == ["new", "old"]
    assert "00" not in repr(ring.keys[0])  # never printed
    for bad in ("nocolon", "a:notbase64!", "a:" + base64.b64encode(bytes(16)).decode()):
        with pytest.raises(ValueError):
            Keyring.parse(bad)


@pytest.mark.parametrize("hexdata,kind", [
    ("", "corrupt"),
    ("20a141", "unsupported"),
    ("16a141", "unsupported"),
    ("14a141", "unsupported"),  # s2: Go-only
    ("10a441", "corrupt"),
    ("10a141c0", "corrupt"),
    ("10ddffffffff", "corrupt"),
    ("10" + "91" * 65 + "c0", "corrupt"),
    ("10c71112" + "01" * 17, "corrupt"),
    ("10d40700", "corrupt"),
    ("10c70d0202" + "000000006b084268" + "00" + "ff", "corrupt"),
    ("10c70b0201" + "000000006b084268" + "80a30a", "corrupt"),
])
def test_refusals(hexdata, kind):
    with pytest.raises(EnvelopeError) as e:
        env.decode(bytes.fromhex(hexdata))
    assert e.value.kind == kind


def test_nesting_64_is_accepted():
    v = env.decode(bytes.fromhex("10" + "91" * 64 + "c0"))
    for _ in range(64):
        v = v[0]
    assert v is None


def test_amplification_is_bounded():
    import zstandard

    bomb = zstandard.ZstdCompressor().compress(msgpack.packb("A" * (20 << 20)))
    with pytest.raises(EnvelopeError) as e:
        env.decode(bytes([0x12]) + bomb)
    assert e.value.kind == "too_large"
    many = msgpack.packb([None] * 100000)  # 100,000 values in ~100 KB: over 16 per byte? no: 1 per byte
    assert len(env.decode(bytes([0x10]) + many)) == 100000
    tiny_many = bytes([0x12]) + zstandard.ZstdCompressor().compress(many)
    with pytest.raises(EnvelopeError) as e:  # the same values from a few hundred stored bytes
        env.decode(tiny_many)
    assert e.value.kind == "too_large"


def test_very_compressible_values_are_padded_not_stored_raw():
    # 1 MiB of repeated text: zstd shrinks it about 1000 times, past the
    # readers' 256x bound, so the frame is padded with a skippable frame to
    # 1/256 of the payload rather than the value being stored raw (1 MiB).
    text = "trading " * (1 << 17)
    data = env.encode(text)
    assert (data[0] >> 1) & 3 == 1, "not zstd"
    assert len(data) <= 64 << 10, len(data)
    assert env.decode(data) == text
    assert env.decoded_limit(len(data)) >= len(text) + 5  # what it writes, it reads


def test_ext_minus_one_reads_as_utc():
    got = env.decode(bytes.fromhex("1091d6ff00000001"))
    assert got == [TcTime(1, 0, 0, "")]
    assert got[0].datetime.tzinfo is datetime.timezone.utc


def test_datetime_fast_path_is_exact():
    # times="datetime" builds zoned and UTC datetimes from a float timestamp
    # below 2**32 seconds; it must equal the exact conversion (TcTime's),
    # to the microsecond, fold and offset included: random instants, the
    # hours around New York's fall-back, and instants past 2**32.
    import random

    rng = random.Random(7)
    ny = zoneinfo.ZoneInfo("America/New_York")
    fall_back = 1793512800  # 2026-11-01T06:00:00Z, 01:00 EST the second time
    instants = [rng.randrange(0, 1 << 32) for _ in range(2000)] + list(range(fall_back - 7200, fall_back + 7200, 300))
    instants += [(1 << 32) + 12345, (1 << 34) - 1]
    for secs in instants:
        for tz in (datetime.timezone.utc, ny):
            t = TcTime.from_datetime(datetime.datetime.fromtimestamp(secs, tz).replace(microsecond=rng.randrange(1_000_000)), rng.randrange(1000))
            b = env.encode({"at": t})
            got = env.decode(b, times="datetime")["at"]
            want = env.decode(b)["at"].datetime
            assert got == want and got.utcoffset() == want.utcoffset() and got.fold == want.fold \
                and got.replace(tzinfo=None) == want.replace(tzinfo=None), (secs, tz, got, want)


def test_equal_decimals_of_different_scale_keep_their_own_bytes():
    # The encoder remembers decimals it has encoded: 150.00, 150.0 and 150
    # are equal (and hash alike) but each keeps its exponent.
    D = decimal.Decimal
    for _ in range(2):
        for text in ("150.00", "150.0", "150", "1.5E+2", "0", "0.00", "-150.00"):
            back = env.decode(env.encode({"p": D(text)}))["p"]
            assert str(back) == text, (text, back)
