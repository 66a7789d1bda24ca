"""A reader and writer for tradecache's value envelope, version 1.

It follows docs/wire-format.md and uses only Debian's python3-msgpack,
python3-zstandard (for zstd values) and python3-cryptography (for sealed
values). codec/python_test.go runs it against the golden vectors.

    value = decode(envelope_bytes, storage_key="trading:session:s1", keys={"golden": key32})
    envelope = encode(value, compress_above=1024)
"""

import datetime
import decimal
import struct
import zoneinfo

import msgpack

VERSION = 1
FLAG_RAW = 0x08
COMPRESSION_MASK = 0x06
FLAG_SEALED = 0x01
COMPRESSION = {0: None, 1: "zstd", 2: "s2"}
EXT_DECIMAL = 1
EXT_TIME = 2
EXT_STAMP = 3  # a whole payload: a value with when it was loaded
EXT_SCALED_MIN, EXT_SCALED_MAX = 16, 31  # decimal with exponent -(type - 16)

# Zones a time can name in one byte (form 3). Part of format version 1;
# must equal codec.ZoneTable in Go, which the test checks.
ZONE_TABLE = [
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Toronto",
    "America/Sao_Paulo", "America/Mexico_City", "Europe/London", "Europe/Dublin", "Europe/Paris",
    "Europe/Berlin", "Europe/Zurich", "Europe/Amsterdam", "Europe/Brussels", "Europe/Madrid",
    "Europe/Rome", "Europe/Stockholm", "Europe/Oslo", "Europe/Copenhagen", "Europe/Helsinki",
    "Europe/Warsaw", "Europe/Moscow", "Europe/Istanbul", "Asia/Tokyo", "Asia/Hong_Kong",
    "Asia/Shanghai", "Asia/Singapore", "Asia/Seoul", "Asia/Kolkata", "Asia/Dubai",
    "Asia/Taipei", "Australia/Sydney", "Pacific/Auckland", "Africa/Johannesburg",
]
MAX_DECODED_SIZE = 64 << 20


class EnvelopeError(ValueError):
    """A value this reader must refuse. kind is one of: corrupt,
    unsupported, unknown_key, tampered, too_large."""

    def __init__(self, kind, message):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


class Stamped:
    """A value written by get-or-load, with its stamp."""

    def __init__(self, value, as_of_ns, fresh_for_ns, load_time_ns, negative):
        self.value, self.as_of_ns, self.fresh_for_ns = value, as_of_ns, fresh_for_ns
        self.load_time_ns, self.negative = load_time_ns, negative


class ZonedTime:
    """A time.Time: the instant to the nanosecond, its offset and zone."""

    def __init__(self, seconds, nanos, offset, zone):
        self.seconds, self.nanos, self.offset, self.zone = seconds, nanos, offset, zone

    @property
    def datetime(self):
        """The time as an aware datetime (microsecond precision: Python's
        datetime has no nanoseconds; .nanos keeps them). The named zone is
        used when Python knows it and it agrees with the recorded offset."""
        fixed = datetime.timezone(datetime.timedelta(seconds=self.offset))
        base = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(
            seconds=self.seconds, microseconds=self.nanos // 1000)
        if self.zone:
            try:
                named = base.astimezone(zoneinfo.ZoneInfo(self.zone))
                if named.utcoffset() == datetime.timedelta(seconds=self.offset):
                    return named
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                pass
        return base.astimezone(fixed) if self.offset or self.zone else base

    def __repr__(self):
        return f"ZonedTime({self.seconds}, {self.nanos}, {self.offset}, {self.zone!r})"


def _uvarint(b, i):
    x, shift = 0, 0
    while True:
        if i >= len(b) or shift > 63:
            raise EnvelopeError("corrupt", "bad varint")
        c = b[i]
        i += 1
        x |= (c & 0x7F) << shift
        if c < 0x80:
            return x, i
        shift += 7


def _unzigzag(u):
    return (u >> 1) ^ -(u & 1)


def _zigzag(v):
    return (v << 1) ^ (v >> 63)


def _put_uvarint(u):
    out = bytearray()
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


def _make_decimal(coef_bytes, exp):
    if not coef_bytes:
        raise EnvelopeError("corrupt", "decimal without a coefficient")
    c = int.from_bytes(coef_bytes, "big", signed=True)
    # The tuple constructor is exact; Decimal(c).scaleb(exp) would round
    # to the context's 28 digits.
    return decimal.Decimal((1 if c < 0 else 0, tuple(int(ch) for ch in str(abs(c))), exp))


def decode_decimal(b):
    """Extension 1: zigzag-varint exponent, then the coefficient."""
    u, i = _uvarint(b, 0)
    return _make_decimal(b[i:], _unzigzag(u))


def encode_decimal(d):
    """Returns (extension type, payload): the scaled form (types 16-31)
    when the exponent is 0 to -15 and the coefficient fits in 8 bytes."""
    sign, digits, exp = d.as_tuple()
    coef = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    if -15 <= exp <= 0 and -(1 << 63) <= coef < (1 << 63):
        for n in (1, 2, 4, 8):
            if -(1 << (8 * n - 1)) <= coef < (1 << (8 * n - 1)):
                return EXT_SCALED_MIN - exp, coef.to_bytes(n, "big", signed=True)
    n = max(1, (coef.bit_length() + 8) // 8)
    return EXT_DECIMAL, _put_uvarint(_zigzag(exp)) + coef.to_bytes(n, "big", signed=True)


def decode_time(b):
    if len(b) == 8:  # UTC, narrow instant, no form byte
        x = struct.unpack(">Q", b)[0]
        if x >> 34 >= 10**9:
            raise EnvelopeError("corrupt", "nanoseconds out of range")
        return ZonedTime(x & ((1 << 34) - 1), x >> 34, 0, "")
    if not b:
        raise EnvelopeError("corrupt", "empty time")
    form, wide = b[0] & ~0x04, b[0] & 0x04
    if form > 3:
        raise EnvelopeError("corrupt", f"time form byte {b[0]:#x}")
    i = 1
    if wide:
        if len(b) < 13:
            raise EnvelopeError("corrupt", "truncated wide timestamp")
        nanos, seconds = struct.unpack(">Iq", b[1:13])
        i = 13
    else:
        if len(b) < 9:
            raise EnvelopeError("corrupt", "truncated timestamp")
        x = struct.unpack(">Q", b[1:9])[0]
        nanos, seconds = x >> 34, x & ((1 << 34) - 1)
        i = 9
    if nanos >= 10**9:
        raise EnvelopeError("corrupt", "nanoseconds out of range")
    if form == 0:
        if i != len(b):
            raise EnvelopeError("corrupt", "bytes after a UTC time")
        return ZonedTime(seconds, nanos, 0, "")
    u, i = _uvarint(b, i)
    offset = _unzigzag(u)
    rest = b[i:]
    if form == 3:
        if len(rest) != 1 or rest[0] >= len(ZONE_TABLE):
            raise EnvelopeError("corrupt", "bad zone table entry")
        return ZonedTime(seconds, nanos, offset, ZONE_TABLE[rest[0]])
    zone = rest.decode("utf-8")
    if (form == 1) != (zone == ""):
        raise EnvelopeError("corrupt", "zone name does not match the form")
    return ZonedTime(seconds, nanos, offset, zone)


def encode_time(dt):
    """An aware datetime; a zoneinfo.ZoneInfo zone is sent by name."""
    offset = int(dt.utcoffset().total_seconds())
    zone = getattr(dt.tzinfo, "key", "") or ""
    delta = dt - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    seconds = delta.days * 86400 + delta.seconds
    nanos = delta.microseconds * 1000
    form = 2 if zone else (1 if offset else 0)
    if form == 2 and zone in ZONE_TABLE:
        form = 3
    if form == 0 and 0 <= seconds < (1 << 34):
        return struct.pack(">Q", (nanos << 34) | seconds)
    if 0 <= seconds < (1 << 34):
        out = bytes([form]) + struct.pack(">Q", (nanos << 34) | seconds)
    else:
        out = bytes([form | 0x04]) + struct.pack(">Iq", nanos, seconds)
    if form:
        out += _put_uvarint(_zigzag(offset))
    if form == 3:
        return out + bytes([ZONE_TABLE.index(zone)])
    return out + zone.encode("utf-8")


def _ext_hook(code, data):
    if code == EXT_DECIMAL:
        return decode_decimal(data)
    if EXT_SCALED_MIN <= code <= EXT_SCALED_MAX:
        return _make_decimal(data, -(code - EXT_SCALED_MIN))
    if code == EXT_TIME:
        return decode_time(data)
    if code == -1:  # MessagePack's own timestamp
        return msgpack.Timestamp.from_bytes(data).to_datetime()
    raise EnvelopeError("corrupt", f"unknown extension type {code}")


def _default(obj):
    if isinstance(obj, decimal.Decimal):
        return msgpack.ExtType(*encode_decimal(obj))
    if isinstance(obj, datetime.datetime):
        if obj.tzinfo is None:
            raise TypeError("naive datetime: give it a zone")
        return msgpack.ExtType(EXT_TIME, encode_time(obj))
    raise TypeError(f"cannot encode {type(obj)}")


def _open(header, body, storage_key, keys):
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(body) < 1:
        raise EnvelopeError("tampered", "truncated before the key id")
    n = body[0]
    if n == 0 or n > 32 or len(body) < 1 + n + 12 + 16:
        raise EnvelopeError("tampered", "truncated sealed value")
    key_id = body[1:1 + n].decode("ascii", "replace")
    if key_id not in (keys or {}):
        raise EnvelopeError("unknown_key", f"key id {key_id!r}")
    nonce = body[1 + n:1 + n + 12]
    aad = bytes([header]) + body[:1 + n] + storage_key.encode()
    try:
        return AESGCM(keys[key_id]).decrypt(nonce, body[1 + n + 12:], aad)
    except InvalidTag:
        raise EnvelopeError("tampered", f"authentication failed (key id {key_id!r})") from None


def decode(envelope, storage_key="", keys=None, max_decoded_size=MAX_DECODED_SIZE):
    """Decode an envelope into Python values: decimal.Decimal with its
    exponent, ZonedTime for times, bytes for the raw codec. A stamped value
    decodes to its inner value; decode_stamped also returns the stamp."""
    v = decode_stamped(envelope, storage_key, keys, max_decoded_size)
    return v.value if isinstance(v, Stamped) else v


def decode_stamped(envelope, storage_key="", keys=None, max_decoded_size=MAX_DECODED_SIZE):
    """Like decode, but a stamped value comes back as a Stamped."""
    if not envelope:
        raise EnvelopeError("corrupt", "empty")
    h = envelope[0]
    if h >> 4 != VERSION:
        raise EnvelopeError("unsupported", f"version {h >> 4}")
    code = (h & COMPRESSION_MASK) >> 1
    if code not in COMPRESSION:
        raise EnvelopeError("unsupported", f"compression code {code}")
    payload = envelope[1:]
    if h & FLAG_SEALED:
        payload = _open(h, payload, storage_key, keys)
    if COMPRESSION[code] == "zstd":
        import zstandard

        try:
            payload = zstandard.ZstdDecompressor().decompress(payload, max_output_size=max_decoded_size)
        except zstandard.ZstdError as e:
            kind = "too_large" if "size" in str(e) else "corrupt"
            raise EnvelopeError(kind, f"zstd: {e}") from None
        if len(payload) > max_decoded_size:
            raise EnvelopeError("too_large", f"{len(payload)} bytes")
    elif COMPRESSION[code] == "s2":
        raise EnvelopeError("unsupported", "s2 compression is Go-only; write zstd for other languages")
    if h & FLAG_RAW:
        return bytes(payload)
    try:
        top = msgpack.unpackb(payload, ext_hook=lambda code, data: msgpack.ExtType(code, data)
                              if code == EXT_STAMP else _ext_hook(code, data), raw=False, strict_map_key=False)
        if isinstance(top, msgpack.ExtType) and top.code == EXT_STAMP:
            return _unstamp(top.data)
        return top
    except EnvelopeError:
        raise
    except Exception as e:  # msgpack's own errors: truncated, extra data, bad codes
        raise EnvelopeError("corrupt", f"{type(e).__name__}: {e}") from None


def _unstamp(b):
    as_of, i = _uvarint(b, 0)
    fresh, i = _uvarint(b, i)
    load, i = _uvarint(b, i)
    if i >= len(b) or b[i] & ~1:
        raise EnvelopeError("corrupt", "bad stamp")
    value = msgpack.unpackb(b[i + 1:], ext_hook=_ext_hook, raw=False, strict_map_key=False)
    return Stamped(value, as_of, fresh, load, bool(b[i] & 1))


def encode(value, compress_above=None):
    """Encode a value as an unsealed envelope (zstd above compress_above
    bytes when that saves at least 10%). bytes use the raw codec."""
    if isinstance(value, (bytes, bytearray)):
        return bytes([VERSION << 4 | FLAG_RAW]) + bytes(value)
    payload = msgpack.packb(value, default=_default, use_bin_type=True)
    header = VERSION << 4
    if compress_above is not None and len(payload) > compress_above:
        import zstandard

        comp = zstandard.ZstdCompressor().compress(payload)
        if len(comp) <= len(payload) - len(payload) // 10:
            payload, header = comp, header | 1 << 1
    return bytes([header]) + payload


def canonical(v):
    """The language-neutral form the golden file uses (see golden_test.go)."""
    if isinstance(v, decimal.Decimal):
        sign, digits, exp = v.as_tuple()
        coef = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
        return {"$decimal": [str(coef), exp]}
    if isinstance(v, ZonedTime):
        return {"$time": [v.seconds, v.nanos, v.offset, v.zone]}
    if isinstance(v, (bytes, bytearray)):
        import base64

        return {"$bytes": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, dict):
        return {k: canonical(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [canonical(x) for x in v]
    return v
