"""tradecache's value envelope, version 1: docs/wire-format.md in Python.

    envelope = encode(value, storage_key="trading:session:s1", keyring=ring, seal=True)
    value = decode(envelope, storage_key="trading:session:s1", keyring=ring)

Decimals are decimal.Decimal with their exponent kept (150.00 stays
150.00), times are TcTime (an instant to the nanosecond, its offset and its
zone; .datetime gives an aware datetime), bytes stored whole use the raw
codec. Everything the specification says a reader must refuse raises
EnvelopeError with the class of error in .kind.
"""

from __future__ import annotations

import array
import base64
import binascii
import datetime as _dt
import decimal
import os
import re
import struct
import sys
import zoneinfo
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import msgpack

from .errors import SerializationError

VERSION = 1
FLAG_RAW = 0x08
COMPRESSION_MASK = 0x06
FLAG_SEALED = 0x01
COMPRESSION_NONE, COMPRESSION_ZSTD, COMPRESSION_S2 = 0, 1, 2

EXT_MSGPACK_TIME = -1
EXT_DECIMAL = 1
EXT_TIME = 2
EXT_STAMP = 3
EXT_TAGGED = 4  # a value with the tags it carries and their tokens (whole payload only)
MAX_TAGS, MAX_TAG_BYTES, MAX_TOKEN_BYTES = 32, 256, 64
EXT_SCALED_MIN, EXT_SCALED_MAX = 16, 31

# Reader limits, as the specification states them.
MAX_DEPTH = 64  # arrays and maps nested within one another
MAX_EXT_LEN = 4096  # any extension's payload but a vector's
EXT_VECTOR32, EXT_VECTOR64 = 5, 6  # float32 and float64 vectors: little-endian IEEE 754, no 4096-byte cap
MAX_SCALED_LEN = 16  # a scaled decimal's coefficient
MAX_ZONE_NAME = 128
MAX_OFFSET = 86399
MAX_DECODED_SIZE = 16 << 20  # a compressed payload's decoded size, at most...
MAX_EXPANSION = 256  # ...this many times the stored envelope...
EXPANSION_FLOOR = 64 << 10  # ...but at least this
VALUES_PER_BYTE = 16  # MessagePack values per byte of the stored envelope...
VALUES_FLOOR = 4096  # ...but at least this many
DEFAULT_COMPRESS_THRESHOLD = 1024

ZONE_TABLE = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Toronto",
    "America/Sao_Paulo", "America/Mexico_City", "Europe/London", "Europe/Dublin", "Europe/Paris",
    "Europe/Berlin", "Europe/Zurich", "Europe/Amsterdam", "Europe/Brussels", "Europe/Madrid",
    "Europe/Rome", "Europe/Stockholm", "Europe/Oslo", "Europe/Copenhagen", "Europe/Helsinki",
    "Europe/Warsaw", "Europe/Moscow", "Europe/Istanbul", "Asia/Tokyo", "Asia/Hong_Kong",
    "Asia/Shanghai", "Asia/Singapore", "Asia/Seoul", "Asia/Kolkata", "Asia/Dubai",
    "Asia/Taipei", "Australia/Sydney", "Pacific/Auckland", "Africa/Johannesburg",
)
_ZONE_INDEX = {z: i for i, z in enumerate(ZONE_TABLE)}
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}\Z")


class EnvelopeError(SerializationError):
    """A value a reader must refuse. kind is one of: corrupt, unsupported,
    unknown_key, tampered, too_large, not_sealed."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


# --- times -------------------------------------------------------------------


@dataclass(frozen=True)
class TcTime:
    """A Go time.Time: seconds since 1970-01-01T00:00:00Z, nanoseconds
    (0-999999999), the offset east of UTC in seconds, and the zone: an IANA
    name ("America/New_York"), an abbreviation a fixed zone was named with
    ("IST"), or "" for UTC or an unnamed offset.

    Python's datetime stops at microseconds; a TcTime keeps the
    nanoseconds, so a value read and written back is unchanged. Build one
    from a datetime with TcTime.from_datetime(dt, nanosecond=...)."""

    seconds: int
    nanos: int
    offset: int = 0
    zone: str = ""

    @classmethod
    def from_datetime(cls, dt: _dt.datetime, nanosecond: int = 0) -> "TcTime":
        """A datetime, with nanosecond (0-999) added below its
        microseconds. A naive datetime (datetime.now()) is taken as this
        process's local time, as datetime.timestamp() takes it, and stored
        with that offset (and no zone name)."""
        if dt.tzinfo is None or dt.utcoffset() is None:
            dt = dt.astimezone()  # local time, with the offset in force at that instant
        if not 0 <= nanosecond < 1000:
            raise ValueError("nanosecond must be 0-999 (the microseconds are the datetime's)")
        offset = int(dt.utcoffset().total_seconds())
        delta = dt - _EPOCH
        seconds = delta.days * 86400 + delta.seconds
        return cls(seconds, delta.microseconds * 1000 + nanosecond, offset, _zone_name(dt.tzinfo, offset))

    @property
    def nanosecond(self) -> int:
        """The nanoseconds below the datetime's microseconds (0-999)."""
        return self.nanos % 1000

    @property
    def datetime(self) -> _dt.datetime:
        """An aware datetime (to the microsecond): in the named zone when
        Python knows it and it agrees with the recorded offset at this
        instant, as Go does; otherwise in a fixed zone with the recorded
        offset and name; UTC for zone "" and offset 0."""
        base = _EPOCH + _dt.timedelta(seconds=self.seconds, microseconds=self.nanos // 1000)
        if self.zone:
            try:
                named = base.astimezone(zoneinfo.ZoneInfo(self.zone))
                if named.utcoffset() == _dt.timedelta(seconds=self.offset):
                    return named
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                pass
            return base.astimezone(_dt.timezone(_dt.timedelta(seconds=self.offset), self.zone))
        if self.offset == 0:
            return base
        return base.astimezone(_dt.timezone(_dt.timedelta(seconds=self.offset)))

    def __str__(self) -> str:
        return f"{self.datetime.isoformat()} (+{self.nanosecond} ns)" if self.nanosecond else self.datetime.isoformat()


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _zone_name(tz: _dt.tzinfo | None, offset: int) -> str:
    """The zone name worth sending: a ZoneInfo's key, a fixed zone's own
    name; "" for UTC and unnamed offsets (which Go writes the same way)."""
    if isinstance(tz, zoneinfo.ZoneInfo):
        return tz.key if tz.key != "UTC" or offset else ""
    if isinstance(tz, _dt.timezone):
        if tz is _dt.timezone.utc:
            return ""
        name = tz.tzname(None)
        unnamed = _dt.timezone(tz.utcoffset(None)).tzname(None)
        return "" if name == unnamed else name
    return ""


def encode_time(t: TcTime) -> bytes:
    """Extension 2's payload (docs/wire-format.md, "Extension 2")."""
    zone = t.zone if len(t.zone.encode()) <= MAX_ZONE_NAME else ""
    if t.offset == 0 and zone in ("", "UTC"):
        form = 0
    elif not zone:
        form = 1
    elif zone in _ZONE_INDEX:
        form = 3
    else:
        form = 2
    narrow = 0 <= t.seconds < 1 << 34
    if form == 0 and narrow:
        return struct.pack(">Q", t.nanos << 34 | t.seconds)
    if narrow:
        out = bytes([form]) + struct.pack(">Q", t.nanos << 34 | t.seconds)
    else:
        out = bytes([form | 0x04]) + struct.pack(">Iq", t.nanos, t.seconds)
    if form:
        out += _uvarint(_zigzag(t.offset))
    if form == 3:
        return out + bytes([_ZONE_INDEX[zone]])
    if form == 2:
        return out + zone.encode()
    return out


def decode_time(b: bytes) -> TcTime:
    if len(b) == 8:
        x = struct.unpack(">Q", b)[0]
        return TcTime(x & (1 << 34) - 1, _nanos(x >> 34), 0, "")
    if not b:
        raise EnvelopeError("corrupt", "empty time")
    form, wide = b[0] & ~0x04, b[0] & 0x04
    if form > 3:
        raise EnvelopeError("corrupt", f"time form byte {b[0]:#04x}")
    if wide:
        if len(b) < 13:
            raise EnvelopeError("corrupt", "truncated wide timestamp")
        nanos, seconds = struct.unpack(">Iq", b[1:13])
        i = 13
    else:
        if len(b) < 9:
            raise EnvelopeError("corrupt", "truncated timestamp")
        x = struct.unpack(">Q", b[1:9])[0]
        nanos, seconds, i = x >> 34, x & (1 << 34) - 1, 9
    nanos = _nanos(nanos)
    if form == 0:
        if i != len(b):
            raise EnvelopeError("corrupt", "bytes after a UTC time")
        return TcTime(seconds, nanos, 0, "")
    u, i = _read_uvarint(b, i)
    offset = _unzigzag(u)
    if abs(offset) > MAX_OFFSET:
        raise EnvelopeError("corrupt", f"offset {offset}s")
    rest = b[i:]
    if form == 3:
        if len(rest) != 1 or rest[0] >= len(ZONE_TABLE):
            raise EnvelopeError("corrupt", "zone table entry")
        return TcTime(seconds, nanos, offset, ZONE_TABLE[rest[0]])
    if form == 1:
        if rest:
            raise EnvelopeError("corrupt", "zone name in a fixed-offset time")
        return TcTime(seconds, nanos, offset, "")
    if not 1 <= len(rest) <= MAX_ZONE_NAME:
        raise EnvelopeError("corrupt", f"zone name of {len(rest)} bytes")
    try:
        return TcTime(seconds, nanos, offset, rest.decode("utf-8"))
    except UnicodeDecodeError:
        raise EnvelopeError("corrupt", "zone name is not UTF-8") from None


def _nanos(n: int) -> int:
    if n >= 10**9:
        raise EnvelopeError("corrupt", f"{n} nanoseconds")
    return n


def decode_msgpack_time(b: bytes) -> TcTime:
    """MessagePack's own timestamp (ext -1), read as UTC."""
    if len(b) == 4:
        return TcTime(struct.unpack(">I", b)[0], 0)
    if len(b) == 8:
        x = struct.unpack(">Q", b)[0]
        return TcTime(x & (1 << 34) - 1, _nanos(x >> 34))
    if len(b) == 12:
        nanos, seconds = struct.unpack(">Iq", b)
        return TcTime(seconds, _nanos(nanos))
    raise EnvelopeError("corrupt", f"timestamp extension of {len(b)} bytes")


# --- decimals ----------------------------------------------------------------


def _coefficient(d: decimal.Decimal) -> tuple[int, int]:
    if not d.is_finite():
        raise TypeError(f"{d} has no coefficient: only finite decimals are stored")
    sign, digits, exp = d.as_tuple()
    coef = int("".join(map(str, digits)) or "0")
    return (-coef if sign else coef), int(exp)


def _fewest_bytes(c: int) -> int:
    """The fewest bytes of two's complement that hold c (at least 1)."""
    bits = (c if c >= 0 else -c - 1).bit_length() + 1
    return max(1, (bits + 7) // 8)


def encode_decimal(d: decimal.Decimal) -> tuple[int, bytes]:
    """(extension type, payload): the scaled form (types 16-31) for an
    exponent of 0 to -15 and a coefficient of 64 bits or fewer, in the
    fewest of 1, 2, 4 or 8 bytes; the general form (type 1) otherwise."""
    coef, exp = _coefficient(d)
    if not -(1 << 31) <= exp < 1 << 31:
        raise TypeError(f"{d}: exponent out of 32 bits")
    if -15 <= exp <= 0 and -(1 << 63) <= coef < 1 << 63:
        n = next(n for n in (1, 2, 4, 8) if -(1 << (8 * n - 1)) <= coef < 1 << (8 * n - 1))
        return EXT_SCALED_MIN - exp, coef.to_bytes(n, "big", signed=True)
    out = _uvarint(_zigzag(exp)) + coef.to_bytes(_fewest_bytes(coef), "big", signed=True)
    if len(out) > MAX_EXT_LEN:
        raise TypeError(f"decimal of {len(out)} bytes, over {MAX_EXT_LEN}")
    return EXT_DECIMAL, out


def _make_decimal(coef_bytes: bytes, exp: int) -> decimal.Decimal:
    if not coef_bytes:
        raise EnvelopeError("corrupt", "decimal without a coefficient")
    c = int.from_bytes(coef_bytes, "big", signed=True)
    # The tuple constructor is exact; Decimal(c).scaleb(exp) would round to
    # the context's 28 digits.
    return decimal.Decimal((1 if c < 0 else 0, tuple(int(ch) for ch in str(abs(c))), exp))


def decode_decimal(code: int, b: bytes) -> decimal.Decimal:
    if code == EXT_DECIMAL:
        u, i = _read_uvarint(b, 0)
        exp = _unzigzag(u)
        if not -(1 << 31) <= exp < 1 << 31:
            raise EnvelopeError("corrupt", f"decimal exponent {exp} out of 32 bits")
        return _make_decimal(b[i:], exp)
    if len(b) > MAX_SCALED_LEN:
        raise EnvelopeError("corrupt", f"scaled decimal of {len(b)} bytes")
    return _make_decimal(b, -(code - EXT_SCALED_MIN))


# --- varints -----------------------------------------------------------------


def _uvarint(u: int) -> bytes:
    out = bytearray()
    while u >= 0x80:
        out.append(u & 0x7F | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


def _read_uvarint(b: bytes, i: int) -> tuple[int, int]:
    x = shift = 0
    while True:
        if i >= len(b) or shift > 63:
            raise EnvelopeError("corrupt", "bad varint")
        c = b[i]
        i += 1
        x |= (c & 0x7F) << shift
        if c < 0x80:
            if x >= 1 << 64:
                raise EnvelopeError("corrupt", "varint over 64 bits")
            return x, i
        shift += 7


def _zigzag(v: int) -> int:
    return (v << 1) ^ (v >> 63) if v < 0 else v << 1


def _unzigzag(u: int) -> int:
    return (u >> 1) ^ -(u & 1)


# --- keys for sealing --------------------------------------------------------


@dataclass(frozen=True)
class Key:
    id: str
    secret: bytes

    def __post_init__(self):
        if not _KEY_ID.match(self.id):
            raise ValueError(f"key id {self.id!r}: 1-32 of [A-Za-z0-9_.-]")
        if len(self.secret) != 32:
            raise ValueError(f"key {self.id!r}: AES-256 needs 32 bytes, got {len(self.secret)}")

    def __repr__(self) -> str:
        return f"Key({self.id!r}, <redacted>)"


class Keyring:
    """Keys for sealing: the first seals new values, every one opens old
    ones. CACHE_ENCRYPTION_KEYS is "id:base64,id:base64"."""

    def __init__(self, keys: Iterable[Key]):
        self.keys = list(keys)
        if not self.keys:
            raise ValueError("a keyring needs at least one key")
        self.by_id = {}
        for k in self.keys:
            if k.id in self.by_id:
                raise ValueError(f"key id {k.id!r} given twice")
            self.by_id[k.id] = k

    @classmethod
    def parse(cls, text: str) -> "Keyring":
        keys = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            kid, sep, b64 = part.partition(":")
            if not sep:
                raise ValueError("CACHE_ENCRYPTION_KEYS: want id:base64, got a part without ':'")
            try:
                secret = base64.b64decode(b64, validate=True)
            except binascii.Error:
                raise ValueError(f"CACHE_ENCRYPTION_KEYS: key {kid!r} is not base64") from None
            keys.append(Key(kid, secret))
        return cls(keys)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Keyring | None":
        text = environ.get("CACHE_ENCRYPTION_KEYS", "")
        return cls.parse(text) if text.strip() else None

    def seal(self, header: int, payload: bytes, storage_key: str) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        k = self.keys[0]
        kid = k.id.encode()
        nonce = os.urandom(12)
        head = bytes([header | FLAG_SEALED, len(kid)]) + kid
        return head + nonce + AESGCM(k.secret).encrypt(nonce, payload, head + storage_key.encode())

    def open(self, header: int, body: bytes, storage_key: str) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not body:
            raise EnvelopeError("tampered", "truncated before the key id")
        n = body[0]
        if not 1 <= n <= 32 or len(body) < 1 + n + 12 + 16:
            raise EnvelopeError("tampered", "truncated sealed value")
        kid = body[1:1 + n].decode("ascii", "replace")
        key = self.by_id.get(kid)
        if key is None:
            raise EnvelopeError("unknown_key", f"key id {kid!r}")
        nonce = body[1 + n:1 + n + 12]
        aad = bytes([header]) + body[:1 + n] + storage_key.encode()
        try:
            return AESGCM(key.secret).decrypt(nonce, body[1 + n + 12:], aad)
        except InvalidTag:
            raise EnvelopeError("tampered", f"authentication failed (key id {kid!r})") from None


# --- the payload's structure, checked before it is decoded -------------------


def _known_ext(code: int) -> bool:
    return (code in (EXT_MSGPACK_TIME, EXT_DECIMAL, EXT_TIME, EXT_STAMP, EXT_VECTOR32, EXT_VECTOR64)
            or EXT_SCALED_MIN <= code <= EXT_SCALED_MAX)


def _vector(code: int, data: bytes) -> "array.array":
    """A vector extension's payload as an array ('f' or 'd'), bit for bit."""
    size, typecode = (4, "f") if code == EXT_VECTOR32 else (8, "d")
    if len(data) % size:
        raise EnvelopeError("corrupt", f"a vector of {size}-byte elements in {len(data)} bytes")
    a = array.array(typecode)
    a.frombytes(data)
    if sys.byteorder == "big":
        a.byteswap()
    return a


def validate(b: bytes, max_values: int) -> None:
    """Prove b exactly one MessagePack value: no truncation, no trailing
    bytes, no length beyond what remains, at most MAX_DEPTH levels of
    arrays and maps, at most max_values values, only the format's
    extension types. The same walk as Go's, so that both refuse the same
    envelopes before allocating anything."""
    stack = [1]  # values still to read at each open level
    i, n, count = 0, len(b), 0
    while stack:
        if stack[-1] == 0:
            stack.pop()
            continue
        stack[-1] -= 1
        count += 1
        if count > max_values:
            raise EnvelopeError("too_large", f"more than {max_values} values")
        if i >= n:
            raise EnvelopeError("corrupt", "truncated")
        c = b[i]
        i += 1
        skip, items = 0, 0
        if c <= 0x7F or c >= 0xE0 or c in (0xC0, 0xC2, 0xC3):
            pass
        elif 0x80 <= c <= 0x8F:
            items = 2 * (c & 0x0F)
        elif 0x90 <= c <= 0x9F:
            items = c & 0x0F
        elif 0xA0 <= c <= 0xBF:
            skip = c & 0x1F
        elif c == 0xC1:
            raise EnvelopeError("corrupt", f"invalid code 0xc1 at byte {i - 1}")
        else:
            width = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4, 0xC7: 1, 0xC8: 2, 0xC9: 4,
                     0xDC: 2, 0xDD: 4, 0xDE: 2, 0xDF: 4}.get(c)
            if width is None:
                fixed = {0xCA: 4, 0xD2: 4, 0xCE: 4, 0xCB: 8, 0xCF: 8, 0xD3: 8, 0xCC: 1, 0xD0: 1, 0xCD: 2, 0xD1: 2}
                if c in fixed:
                    skip = fixed[c]
                else:  # fixext 1, 2, 4, 8, 16, and the type byte
                    skip = 1 + (1 << (c - 0xD4))
                    if i < n and not _known_ext(struct.unpack("b", b[i:i + 1])[0]):
                        raise EnvelopeError("corrupt", f"unknown extension type at byte {i}")
            else:
                if n - i < width:
                    raise EnvelopeError("corrupt", f"truncated length at byte {i}")
                length = int.from_bytes(b[i:i + width], "big")
                i += width
                if length > n:
                    raise EnvelopeError("corrupt", f"container or string larger than the payload at byte {i}")
                if c in (0xDC, 0xDD):
                    items = length
                elif c in (0xDE, 0xDF):
                    items = 2 * length
                elif c in (0xC7, 0xC8, 0xC9):
                    skip = length + 1
                    if i < n and not _known_ext(struct.unpack("b", b[i:i + 1])[0]):
                        raise EnvelopeError("corrupt", f"unknown extension type at byte {i}")
                else:
                    skip = length
        if skip:
            if n - i < skip:
                raise EnvelopeError("corrupt", f"truncated at byte {i}")
            i += skip
        if items:  # an empty array or map encloses nothing, and does not count
            if items > n - i:
                raise EnvelopeError("corrupt", f"{items} items declared at byte {i}, {n - i} bytes left")
            if len(stack) > MAX_DEPTH:
                raise EnvelopeError("corrupt", f"nested deeper than {MAX_DEPTH}")
            stack.append(items)
    if i != n:
        raise EnvelopeError("corrupt", f"{n - i} bytes after the value")


# --- decoding ----------------------------------------------------------------


@dataclass(frozen=True)
class Stamp:
    """Get-or-load's stamp: when the value was loaded (Unix ns), how long
    it is fresh (ns), how long the load took (ns), and whether it records a
    miss (the value is then None)."""

    as_of_ns: int
    fresh_for_ns: int
    load_time_ns: int
    negative: bool = False


# Decoded decimals by extension type and payload: a Decimal is immutable, and
# prices repeat, so a hit costs one dict lookup rather than a
# construction. Bounded: emptied when full.
_DECIMALS_MAX = 8192
_DECIMALS: list[dict[bytes, decimal.Decimal]] = [{} for _ in range(EXT_SCALED_MAX + 1)]  # by extension type
# The same caches by decimal extension type only: a hook's one lookup
# tells a decimal type from any other.
_DECIMALS_BY_CODE = {c: _DECIMALS[c] for c in (EXT_DECIMAL, *range(EXT_SCALED_MIN, EXT_SCALED_MAX + 1))}
_decimals_held = 0


def _decimal_ext(code: int, data: bytes) -> decimal.Decimal:
    global _decimals_held
    cache = _DECIMALS[code]
    d = cache.get(data)
    if d is None:
        if EXT_SCALED_MIN <= code <= EXT_SCALED_MAX and 0 < len(data) <= MAX_SCALED_LEN:
            # Construction from a string is exact, whatever the context's
            # precision, and keeps the exponent (150.00 stays 150.00).
            d = decimal.Decimal(f"{int.from_bytes(data, 'big', signed=True)}E-{code - EXT_SCALED_MIN}")
        else:
            d = decode_decimal(code, data)
        if _decimals_held >= _DECIMALS_MAX:
            for c in _DECIMALS:
                c.clear()
            _decimals_held = 0
        cache[data] = d
        _decimals_held += 1
    return d


def _ext_hook(code: int, data: bytes) -> Any:
    if EXT_SCALED_MIN <= code <= EXT_SCALED_MAX or code == EXT_DECIMAL:
        d = _DECIMALS[code].get(data)
        if d is not None:
            return d
        if len(data) > MAX_EXT_LEN:
            raise EnvelopeError("corrupt", f"extension of {len(data)} bytes")
        return _decimal_ext(code, data)
    if code == EXT_TIME:
        if len(data) > MAX_EXT_LEN:
            raise EnvelopeError("corrupt", f"extension of {len(data)} bytes")
        return decode_time(data)
    if code == EXT_VECTOR32 or code == EXT_VECTOR64:
        return _vector(code, data)
    if len(data) > MAX_EXT_LEN:
        raise EnvelopeError("corrupt", f"extension of {len(data)} bytes")
    raise EnvelopeError("corrupt", f"extension type {code} here")


def _ext_hook_datetime(code: int, data: bytes, _by_code: dict = _DECIMALS_BY_CODE) -> Any:
    # _by_code is bound once (a default): the hook runs for every decimal
    # and time of every value, and a local lookup is cheaper than a global.
    cache = _by_code.get(code)
    if cache is not None:
        d = cache.get(data)
        if d is not None:
            return d
    elif code == EXT_TIME:
        # A quote's time: a zone of the table with a three-byte offset, in
        # a span whose offset is known (_SPANS). Inlined here, one call
        # from the unpacker; anything else goes the long way.
        if len(data) == 13:
            form, x, c0, c1, c2, zone = _ZONED(data)
            if form == 3 and c0 & c1 & 0x80 and c2 < 0x80 and x >> 34 < 1_000_000_000:
                secs = x & _MASK34
                u = (c0 & 0x7F) | (c1 & 0x7F) << 7 | c2 << 14
                tz = _ZONES.get(zone)
                if tz and secs < _FLOAT_EXACT and _SPANS.get(zone << 24 | secs >> 12) == (u >> 1) ^ -(u & 1):
                    return _fromtimestamp(secs + (x >> 34) // 1000 * 1e-6, tz)
        if len(data) <= MAX_EXT_LEN:
            return _datetime_of(data)
    return _ext_hook(code, data)


_ZONED = struct.Struct(">BQBBBB").unpack  # form 3, a three-byte offset: 13 bytes
_fromtimestamp = _dt.datetime.fromtimestamp


_ZONES: dict[int, Any] = {}
_OFFSETS: dict[int, _dt.timedelta] = {}
_MASK34 = (1 << 34) - 1
_UTC = _dt.timezone.utc
# Below 2**32 seconds (the year 2106), seconds plus microseconds as a float
# are within 0.24 µs of the exact instant, so fromtimestamp, which rounds
# to the microsecond, gives it exactly; it is half the cost of building the
# datetime from a timedelta and converting it with astimezone.
_FLOAT_EXACT = 1 << 32


_Q = struct.Struct(">Q").unpack_from
# Offsets seen to hold, by zone and 4096-second span: (zone << 24 | secs >>
# 12) -> the offset in seconds, for spans with no transition within four
# hours (so that no wall time in them is ambiguous or skipped). A hit
# skips the utcoffset() check. Bounded: emptied when full.
_SPANS: dict[int, int] = {}
_SPANS_MAX = 4096


def _span_offset(tz: Any, zone: int, secs: int) -> int | None:
    """The offset that holds throughout secs's span in tz, when one does
    and no transition is near; None otherwise. Remembered."""
    key = zone << 24 | secs >> 12
    off = _SPANS.get(key)
    if off is None:
        lo, hi = (secs >> 12) << 12, ((secs >> 12) + 1) << 12
        offs = {_dt.datetime.fromtimestamp(t, tz).utcoffset() for t in (lo - 14400, lo, hi, hi + 14400)}
        if len(offs) != 1:
            return None
        off = int(offs.pop().total_seconds())
        if len(_SPANS) >= _SPANS_MAX:
            _SPANS.clear()
        _SPANS[key] = off
    return off


def _datetime_of(b: bytes) -> _dt.datetime:
    """Extension 2 straight to a datetime, for the two forms quotes use (UTC,
    and a zone of the table, narrow); any other goes through TcTime. The
    same checks as decode_time."""
    n = len(b)
    if n == 8:
        x = _Q(b)[0]
        if x >> 34 >= 1_000_000_000:
            raise EnvelopeError("corrupt", f"{x >> 34} nanoseconds")
        secs = x & _MASK34
        if secs < _FLOAT_EXACT:
            return _dt.datetime.fromtimestamp(secs + (x >> 34) // 1000 * 1e-6, _UTC)
        return _EPOCH + _dt.timedelta(seconds=secs, microseconds=(x >> 34) // 1000)
    if n >= 11 and b[0] == 3:
        x = _Q(b, 1)[0]
        nanos = x >> 34
        c0, c1, c2 = b[9], b[10], b[11]
        if n == 13 and c0 & c1 & 0x80 and c2 < 0x80:  # a three-byte offset: any whole-minute zone's
            u, i = (c0 & 0x7F) | (c1 & 0x7F) << 7 | c2 << 14, 12
        else:
            u, i = _read_uvarint(b, 9)
        off = (u >> 1) ^ -(u & 1)
        zone = b[i] if i == n - 1 else len(ZONE_TABLE)
        if nanos < 1_000_000_000 and abs(off) <= MAX_OFFSET and zone < len(ZONE_TABLE):
            tz = _ZONES.get(zone)
            if tz is None:
                try:
                    tz = zoneinfo.ZoneInfo(ZONE_TABLE[zone])
                except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                    tz = False
                _ZONES[zone] = tz
            secs = x & _MASK34
            if tz and secs < _FLOAT_EXACT:
                d = _dt.datetime.fromtimestamp(secs + nanos // 1000 * 1e-6, tz)
                span = _SPANS.get(zone << 24 | secs >> 12)
                if span is None:
                    span = _span_offset(tz, zone, secs)
                if span == off:
                    return d
                want = _OFFSETS.get(off)
                if want is None:
                    want = _dt.timedelta(seconds=off)
                    if off % 900 == 0:  # a real zone's: bounded, whatever a value claims
                        _OFFSETS[off] = want
                if d.utcoffset() == want:
                    return d
            elif tz:
                d = (_EPOCH + _dt.timedelta(seconds=secs, microseconds=nanos // 1000)).astimezone(tz)
                if d.utcoffset() == _dt.timedelta(seconds=off):
                    return d
    return decode_time(b).datetime


# The header of a version 1 MessagePack value, neither compressed nor sealed.
_PLAIN = VERSION << 4

# Bytes that can open a MessagePack array or map. A payload with at most
# MAX_DEPTH of them anywhere cannot nest deeper than MAX_DEPTH, so the
# structural walk (validate) is needed only for the rare payload with more;
# counting them is one bytes.translate, in C.
_NOT_CONTAINER = bytes(c for c in range(256) if not (0x80 <= c <= 0x9F or 0xDC <= c <= 0xDF))


def _unpack(payload: bytes, times: str = "tctime") -> Any:
    """Decode one MessagePack value with msgpack's C unpacker: its own
    limits (no length beyond the payload, no trailing bytes), ext_hook for
    the format's extensions (an unknown one is refused), ext -1 read as
    UTC. The structural bounds that the C unpacker does not keep (depth,
    values per byte of a compressed envelope) are the caller's."""
    try:
        if times == "datetime":
            return msgpack.unpackb(payload, ext_hook=_ext_hook_datetime, raw=False, strict_map_key=False,
                                   timestamp=3, use_list=True, max_ext_len=MAX_DECODED_SIZE)
        v = msgpack.unpackb(payload, ext_hook=_ext_hook, raw=False, strict_map_key=False,
                            timestamp=0, use_list=True, max_ext_len=MAX_DECODED_SIZE)
    except EnvelopeError:
        raise
    except Exception as e:  # msgpack's own: truncated, trailing bytes, bad UTF-8, an unhashable key
        raise EnvelopeError("corrupt", f"{type(e).__name__}: {e}") from None
    if b"\xff" in payload:  # ext -1 has type byte 0xff: only then can a msgpack.Timestamp be inside
        return _from_msgpack(v)
    return v


def _check_structure(payload: bytes, max_values: int, compressed: bool) -> None:
    """What the C unpacker does not bound: nesting beyond MAX_DEPTH, and
    (for a decompressed payload, which can be 256 times its envelope) more
    values than max_values. An uncompressed payload holds fewer values than
    its bytes, so only its depth can need the walk, and only when it has
    more than MAX_DEPTH bytes that can open a container."""
    if compressed or len(payload.translate(None, _NOT_CONTAINER)) > MAX_DEPTH:
        validate(payload, max_values)


def _from_msgpack(v: Any) -> Any:
    """msgpack decodes ext -1 itself, to a Timestamp: make it a UTC TcTime."""
    if isinstance(v, msgpack.Timestamp):
        return TcTime(v.seconds, v.nanoseconds)
    if isinstance(v, list):
        return [_from_msgpack(x) for x in v]
    if isinstance(v, dict):
        return {_from_msgpack(k): _from_msgpack(x) for k, x in v.items()}
    return v


# A zstd skippable frame (RFC 8878, 3.1.2): this magic, a 4-byte
# little-endian length and that many bytes, which every zstd decoder skips.
_SKIPPABLE_MAGIC = 0x184D2A50


def _pad_to_limit(comp: bytes, n: int, max_decoded_size: int) -> bytes:
    """Pad a zstd frame that shrinks its n-byte payload past a reader's
    expansion bound with a skippable frame, up to the envelope size that
    bound needs (1/256 of the payload), as the Go writer does: readers stay
    bounded per stored byte, and the value is not stored raw."""
    if decoded_limit(1 + len(comp), max_decoded_size) >= n or decoded_limit(1 + n, max_decoded_size) < n:
        return comp
    stored = max(1 + len(comp) + 8, -(-n // MAX_EXPANSION))
    size = stored - 1 - len(comp) - 8
    return comp + _SKIPPABLE_MAGIC.to_bytes(4, "little") + size.to_bytes(4, "little") + bytes(size)


def decoded_limit(stored: int, max_decoded_size: int = MAX_DECODED_SIZE) -> int:
    return min(max_decoded_size, max(EXPANSION_FLOOR, MAX_EXPANSION * stored))


def decode_stamped(envelope: bytes, storage_key: str = "", keyring: Keyring | None = None,
                   sealed: bool = False, max_decoded_size: int = MAX_DECODED_SIZE,
                   times: str = "tctime") -> tuple[Any, Stamp | None]:
    """Decode an envelope into (value, stamp); stamp is None for a value
    written without one. A tagged value's tags are not checked here: a
    cache reads them with decode_meta and holds them to the tags' tokens."""
    return decode_meta(envelope, storage_key, keyring, sealed, max_decoded_size, times)[:2]


def decode_meta(envelope: bytes, storage_key: str = "", keyring: Keyring | None = None,
                sealed: bool = False, max_decoded_size: int = MAX_DECODED_SIZE,
                times: str = "tctime") -> "tuple[Any, Stamp | None, list[tuple[str, str]] | None]":
    """Decode an envelope into (value, stamp, tags); stamp is None for a
    value written without one, tags (name, token pairs) None for an
    untagged one. sealed refuses a value that is not sealed (a
    sealed namespace's values must be). times is "tctime" (TcTime: the
    nanoseconds and zone exactly) or "datetime" (an aware datetime, to the
    microsecond). Raises EnvelopeError."""
    if not envelope:
        raise EnvelopeError("corrupt", "empty")
    if type(envelope) is not bytes:
        envelope = bytes(envelope)
    h = envelope[0]
    if h >> 4 != VERSION:
        raise EnvelopeError("unsupported", f"version {h >> 4}")
    code = (h & COMPRESSION_MASK) >> 1
    if code == 3:
        raise EnvelopeError("unsupported", "compression code 3")
    payload = envelope[1:]
    if h & FLAG_SEALED:
        if keyring is None:
            raise EnvelopeError("unknown_key", "a sealed value, and no keys")
        payload = keyring.open(h, payload, storage_key)
    elif sealed:
        raise EnvelopeError("not_sealed", "a value that is not sealed in a sealed namespace")
    limit = decoded_limit(len(envelope), max_decoded_size)
    compressed = code != COMPRESSION_NONE
    if code == COMPRESSION_ZSTD:
        payload = _unzstd(payload, limit)
    elif code == COMPRESSION_S2:
        raise EnvelopeError("unsupported", "s2 is Go-only: a namespace shared with Python must use zstd or none")
    if h & FLAG_RAW:
        return payload, None, None
    if not payload:
        raise EnvelopeError("corrupt", "truncated")
    tags = None
    if _is_ext(payload, EXT_TAGGED):
        tags, payload = _untag(payload)
    if _is_stamp(payload):
        validate(payload, max(VALUES_FLOOR, VALUES_PER_BYTE * len(envelope)))
        return (*_unstamp(payload, times), tags)
    _check_structure(payload, max(VALUES_FLOOR, VALUES_PER_BYTE * len(envelope)), compressed)
    return _unpack(payload, times), None, tags


def _unzstd(payload: bytes, limit: int) -> bytes:
    import zstandard

    try:
        params = zstandard.get_frame_parameters(payload)
    except zstandard.ZstdError as e:
        raise EnvelopeError("corrupt", f"zstd: {e}") from None
    if params.content_size != zstandard.CONTENTSIZE_UNKNOWN and params.content_size > limit:
        raise EnvelopeError("too_large", f"zstd frame declares {params.content_size} bytes, over {limit}")
    try:
        out = zstandard.ZstdDecompressor().decompress(payload, max_output_size=limit)
    except zstandard.ZstdError as e:
        kind = "too_large" if "size" in str(e) or "buffer" in str(e) else "corrupt"
        raise EnvelopeError(kind, f"zstd: {e}") from None
    if len(out) > limit:
        raise EnvelopeError("too_large", f"{len(out)} bytes, over {limit}")
    return out


def new_tag_token() -> str:
    """A new random token for a tag, as Go makes them: 12 random bytes,
    base64url without padding."""
    return base64.urlsafe_b64encode(os.urandom(12)).rstrip(b"=").decode()


def maybe_tagged(b: bytes) -> bool:
    """Whether an envelope may be a tagged value, which a reader must hold
    to its tags' tokens (decode_meta): a plain one whose payload opens
    extension 4, or one compressed or sealed, which only decoding tells."""
    if len(b) < 3 or b[0] & FLAG_RAW:
        return False
    if b[0] != _PLAIN:
        return True
    c = b[1]
    if 0xC7 <= c <= 0xC9:
        at = 2 + (1 << (c - 0xC7))
        return len(b) > at and b[at] == EXT_TAGGED
    return False


def _tag_section(tags: "list[tuple[str, str]]") -> bytes:
    if len(tags) > MAX_TAGS:
        raise ValueError(f"{len(tags)} tags, over {MAX_TAGS}")
    out = [_uvarint(len(tags))]
    for name, token in tags:
        n, t = name.encode(), token.encode()
        if not 1 <= len(n) <= MAX_TAG_BYTES or not 1 <= len(t) <= MAX_TOKEN_BYTES:
            raise ValueError(f"tag {name!r}: names of 1 to {MAX_TAG_BYTES} bytes, tokens of 1 to {MAX_TOKEN_BYTES}")
        out += [_uvarint(len(n)), n, _uvarint(len(t)), t]
    return b"".join(out)


def _untag(payload: bytes) -> "tuple[list[tuple[str, str]], bytes]":
    """Split a tagged payload (extension 4, the whole payload) into its tags
    and inner payload, holding the section to the specification's bounds."""
    try:
        ext = msgpack.unpackb(payload, ext_hook=lambda code, d: msgpack.ExtType(code, d), raw=False)
    except Exception as e:
        raise EnvelopeError("corrupt", f"tagged value: {e}") from None
    b = ext.data
    count, i = _read_uvarint(b, 0)
    if not 1 <= count <= MAX_TAGS:
        raise EnvelopeError("corrupt", "tagged value with a bad tag count")
    tags = []
    for _ in range(count):
        pair = []
        for bound in (MAX_TAG_BYTES, MAX_TOKEN_BYTES):
            n, i = _read_uvarint(b, i)
            if not 1 <= n <= bound or i + n > len(b):
                raise EnvelopeError("corrupt", "tagged value with a bad tag")
            try:
                pair.append(b[i:i + n].decode())
            except UnicodeDecodeError:
                raise EnvelopeError("corrupt", "tag not UTF-8") from None
            i += n
        tags.append((pair[0], pair[1]))
    inner = b[i:]
    if not inner:
        raise EnvelopeError("corrupt", "tagged value without a value")
    if _is_ext(inner, EXT_TAGGED):
        raise EnvelopeError("corrupt", "tagged value inside a tagged value")
    return tags, inner


def _unstamp(payload: bytes, times: str = "tctime") -> tuple[Any, Stamp]:
    data = msgpack.unpackb(payload, ext_hook=lambda code, d: msgpack.ExtType(code, d), raw=False)
    b = data.data
    as_of, i = _read_uvarint(b, 0)
    fresh, i = _read_uvarint(b, i)
    load, i = _read_uvarint(b, i)
    if i >= len(b) or b[i] & ~1:
        raise EnvelopeError("corrupt", "stamp flags")
    inner = b[i + 1:]
    validate(inner, max(VALUES_FLOOR, VALUES_PER_BYTE * len(payload)))
    if inner and _is_stamp(inner):
        raise EnvelopeError("corrupt", "a stamp inside a stamp")
    return _unpack(inner, times), Stamp(as_of, fresh, load, bool(b[i] & 1))


def _is_stamp(b: bytes) -> bool:
    return _is_ext(b, EXT_STAMP)


def _is_ext(b: bytes, code: int) -> bool:
    c = b[0]
    if 0xD4 <= c <= 0xD8:
        return len(b) > 1 and struct.unpack("b", b[1:2])[0] == code
    if 0xC7 <= c <= 0xC9:
        at = 1 + (1 << (c - 0xC7))
        return len(b) > at and struct.unpack("b", b[at:at + 1])[0] == code
    return False


def decode(envelope: bytes, storage_key: str = "", keyring: Keyring | None = None, sealed: bool = False,
           max_decoded_size: int = MAX_DECODED_SIZE, times: str = "tctime") -> Any:
    """Decode an envelope; a stamped value gives its inner value."""
    # The common case without a detour: version 1, MessagePack, neither
    # compressed nor sealed, and a first byte that cannot open a stamp (an
    # extension): the checks decode_stamped would make come to the depth
    # count alone.
    if not sealed and type(envelope) is bytes and len(envelope) > 1 and envelope[0] == _PLAIN:
        c = envelope[1]
        if c < 0xC7 or c > 0xD8 or 0xCA <= c <= 0xD3:
            payload = envelope[1:]
            if len(payload.translate(None, _NOT_CONTAINER)) <= MAX_DEPTH:
                if times != "datetime":
                    return _unpack(payload, times)
                try:  # _unpack's datetime case, inlined: a call is 5% of a quote's decode
                    return msgpack.unpackb(payload, ext_hook=_ext_hook_datetime, raw=False, strict_map_key=False,
                                           timestamp=3, max_ext_len=MAX_DECODED_SIZE)
                except EnvelopeError:
                    raise
                except Exception as e:  # msgpack's own, as in _unpack
                    raise EnvelopeError("corrupt", f"{type(e).__name__}: {e}") from None
    return decode_stamped(envelope, storage_key, keyring, sealed, max_decoded_size, times)[0]


# --- encoding ----------------------------------------------------------------


def _key_order(keys: list) -> list:
    """The order the specification gives map keys: all integers by value,
    all strings by their UTF-8 bytes (which is code point order), any other
    mix by the bytes of each key's MessagePack encoding."""
    if all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
        return sorted(keys)
    if all(isinstance(k, str) for k in keys):
        return sorted(keys)
    return sorted(keys, key=lambda k: msgpack.packb(_canonical_value(k), default=_default, use_bin_type=True))


# Values _canonical_value returns as they are (by exact type: a subclass
# takes the general path).
_AS_IS = frozenset({str, int, float, bool, type(None), bytes, decimal.Decimal, TcTime})


def _canonical_value(v: Any) -> Any:
    if type(v) is dict:
        keys = list(v)
        if all(type(k) is str for k in keys):  # the common map: sorted in C, scalars not walked
            keys.sort()
            return {k: x if type(x := v[k]) in _AS_IS else _canonical_value(x) for k in keys}
        return {k: _canonical_value(v[k]) for k in _key_order(keys)}
    if isinstance(v, dict):
        return {k: _canonical_value(v[k]) for k in _key_order(list(v))}
    if isinstance(v, (list, tuple)):
        return [_canonical_value(x) for x in v]
    if isinstance(v, _dt.datetime):
        return TcTime.from_datetime(v)
    return v


# Encoded decimals by their text, which keeps the exponent (150.00 and
# 150.0 are equal Decimals with different encodings): prices repeat.
# Bounded: emptied when full.
_ENCODED_DECIMALS: dict[str, msgpack.ExtType] = {}


def _default(obj: Any) -> Any:
    if type(obj) is decimal.Decimal:
        text = str(obj)
        e = _ENCODED_DECIMALS.get(text)
        if e is None:
            e = msgpack.ExtType(*encode_decimal(obj))
            if len(_ENCODED_DECIMALS) >= _DECIMALS_MAX:
                _ENCODED_DECIMALS.clear()
            _ENCODED_DECIMALS[text] = e
        return e
    if isinstance(obj, decimal.Decimal):
        return msgpack.ExtType(*encode_decimal(obj))
    if isinstance(obj, TcTime):
        return msgpack.ExtType(EXT_TIME, encode_time(obj))
    if isinstance(obj, _dt.datetime):
        return msgpack.ExtType(EXT_TIME, encode_time(TcTime.from_datetime(obj)))
    if isinstance(obj, array.array) and obj.typecode in ("f", "d"):
        if sys.byteorder == "big":
            obj = array.array(obj.typecode, obj)
            obj.byteswap()
        return msgpack.ExtType(EXT_VECTOR32 if obj.typecode == "f" else EXT_VECTOR64, obj.tobytes())
    raise TypeError(f"cannot encode {type(obj).__name__}")


def pack(value: Any) -> bytes:
    """The MessagePack payload of value, canonical: equal values, equal
    bytes."""
    try:
        return msgpack.packb(_canonical_value(value), default=_default, use_bin_type=True, datetime=False)
    except OverflowError as e:
        raise TypeError(f"an integer beyond 64 bits: {e}") from None


def encode(value: Any, storage_key: str = "", compression: str = "zstd",
           compress_threshold: int = DEFAULT_COMPRESS_THRESHOLD, keyring: Keyring | None = None,
           seal: bool = False, stamp: Stamp | None = None, max_decoded_size: int = MAX_DECODED_SIZE,
           tags: "list[tuple[str, str]] | None" = None) -> bytes:
    """Encode value as an envelope stored under storage_key: bytes whole
    with the raw codec, anything else as MessagePack; zstd above
    compress_threshold bytes when it saves at least 10% (and readers' bound
    allows it); sealed with keyring's first key when seal is set. s2 is
    Go-only and refused. tags, (name, token) pairs, make it a tagged value
    (extension 4), read as absent once any tag's token has moved."""
    if compression not in ("zstd", "none", ""):
        raise ValueError(f"compression {compression!r}: Python writes zstd or none (s2 is Go-only)")
    if seal and keyring is None:
        raise ValueError("seal needs a keyring")
    if isinstance(value, (bytes, bytearray)) and stamp is None and not tags:
        header, payload = VERSION << 4 | FLAG_RAW, bytes(value)
    else:
        header, payload = VERSION << 4, pack(value)
        if stamp is not None:
            body = (_uvarint(stamp.as_of_ns) + _uvarint(stamp.fresh_for_ns) + _uvarint(stamp.load_time_ns)
                    + bytes([1 if stamp.negative else 0]) + payload)
            payload = msgpack.packb(msgpack.ExtType(EXT_STAMP, body), use_bin_type=True)
        if tags:
            payload = msgpack.packb(msgpack.ExtType(EXT_TAGGED, _tag_section(tags) + payload), use_bin_type=True)
    if compression == "zstd" and compress_threshold >= 0 and len(payload) > compress_threshold:
        import zstandard

        comp = _pad_to_limit(zstandard.ZstdCompressor().compress(payload), len(payload), max_decoded_size)
        if len(comp) <= len(payload) - len(payload) // 10 and decoded_limit(1 + len(comp), max_decoded_size) >= len(payload):
            header, payload = header | COMPRESSION_ZSTD << 1, comp
    if seal:
        return keyring.seal(header, payload, storage_key)
    return bytes([header]) + payload


# --- the golden vectors' language-neutral form -------------------------------


def canonical(v: Any) -> Any:
    """A decoded value in the golden vectors' language-neutral form
    (docs/wire-format.md, "Golden vectors")."""
    if isinstance(v, decimal.Decimal):
        coef, exp = _coefficient(v)
        return {"$decimal": [str(coef), exp]}
    if isinstance(v, TcTime):
        return {"$time": [v.seconds, v.nanos, v.offset, v.zone]}
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, array.array) and v.typecode in ("f", "d"):
        return {"$vector32" if v.typecode == "f" else "$vector64": list(v)}
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v):
            return {k: canonical(x) for k, x in v.items()}
        return {"$map": [[canonical(k), canonical(v[k])] for k in _key_order(list(v))]}
    if isinstance(v, (list, tuple)):
        return [canonical(x) for x in v]
    return v
