"""Redis Cluster hash slots, and companion keys that share a key's slot:
internal/keyslot in Python, so that a version key names the same Redis key
from both languages."""

from __future__ import annotations

import functools
import itertools

SLOTS = 16384


def _crc16_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = (crc << 1 ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
        table.append(crc)
    return table


_TABLE = _crc16_table()


def crc16(data: bytes) -> int:
    """CRC16-XMODEM, as the cluster specification defines it."""
    crc = 0
    for b in data:
        crc = (crc << 8 & 0xFFFF) ^ _TABLE[(crc >> 8 ^ b) & 0xFF]
    return crc


def tag(key: str) -> str | None:
    """The key's hash tag: the text between the first '{' and the first '}'
    after it, when not empty."""
    i = key.find("{")
    if i < 0:
        return None
    j = key.find("}", i + 1)
    if j <= i + 1:
        return None
    return key[i + 1:j]


def slot(key: str) -> int:
    t = tag(key)
    return crc16((t if t is not None else key).encode()) & (SLOTS - 1)


@functools.cache
def _tags() -> list[str]:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    tags = [""] * SLOTS
    left = SLOTS
    for n in range(1, 4):
        for chars in itertools.product(alphabet, repeat=n):
            s = "".join(chars)
            sl = crc16(s.encode()) & (SLOTS - 1)
            if not tags[sl]:
                tags[sl] = s
                left -= 1
        if not left:
            break
    return tags


def companion(key: str, suffix: str) -> str | None:
    """A key that begins with key + suffix and hashes to key's slot (Go's
    keyslot.Companion); None when key's braces form no tag."""
    if tag(key) is not None:
        return key + suffix
    if "{" in key:
        return None
    return key + suffix + "{" + _tags()[slot(key)] + "}"
