"""The same configuration as the Go library, from the same environment
variables (docs/configuration.md): where Redis is, the key prefix, the TTL
policies, compression and the sealing keys."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Mapping

from .envelope import Keyring

NAMESPACE_DEFAULT = "default"
NAMESPACE_MARKET_DATA = "market_data"
NAMESPACE_PORTFOLIO = "portfolio"
NAMESPACE_RISK = "risk"
NAMESPACE_SESSION = "session"

MAX_NAME_LENGTH = 64
DEFAULT_MAX_KEY_LENGTH = 512
_NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")


class ConfigError(ValueError):
    """A setting that cannot work; nothing was connected or written."""


class KeyError_(ValueError):
    """A key or namespace outside the grammar; nothing was sent."""


def check_name(s: str) -> str:
    """Why s is not a valid prefix or namespace name, or ""."""
    if not s:
        return "empty"
    if len(s.encode()) > MAX_NAME_LENGTH:
        return f"longer than {MAX_NAME_LENGTH} bytes"
    if not _NAME.match(s):
        return "only letters, digits, '_', '.' and '-' are allowed"
    return ""


def check_key(k: str, max_len: int = DEFAULT_MAX_KEY_LENGTH) -> str:
    """Why k is not a valid key, or "": 1 to max_len bytes of UTF-8 with no
    whitespace and no control or format characters (Go's checkKey)."""
    if not k:
        return "empty"
    b = k.encode("utf-8", "surrogatepass")
    if len(b) > max_len:
        return f"longer than {max_len} bytes ({len(b)})"
    for i, ch in enumerate(k):
        if 0xD800 <= ord(ch) <= 0xDFFF:
            return "not valid UTF-8"
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf"):
            return f"contains whitespace or a control character at character {i}"
    return ""


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds from "3600", "0.1" or a Go duration such as "250ms" or
    "1h30m", as the Go library reads its *_TTL variables."""
    text = text.strip()
    try:
        v = float(text)
    except ValueError:
        pos, total = 0, 0.0
        for m in _DURATION.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if pos != len(text) or not text:
            raise ValueError(f"not a duration: {text!r}") from None
        return total
    if v < 0 or v != v:
        raise ValueError(f"not a duration: {text!r}")
    return v


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


# The variables the Go library also reads (docs/configuration.md), each
# with the Config field it sets and how its text is read. One table: from_env
# reads it, and a test holds it against the Go documentation's table.
SETTINGS: list[tuple[str, str, Callable[[str], object]]] = [
    ("REDIS_URL", "redis_url", str),
    ("REDIS_HOST", "redis_host", str),
    ("REDIS_PORT", "redis_port", int),
    ("REDIS_DB", "redis_db", int),
    ("REDIS_USERNAME", "redis_username", str),
    ("REDIS_PASSWORD", "redis_password", str),
    ("REDIS_SSL", "redis_ssl", _bool),
    ("CACHE_KEY_PREFIX", "key_prefix", str),
    ("CACHE_DEFAULT_TTL", "default_ttl", parse_duration),
    ("CACHE_MARKET_DATA_TTL", "market_data_ttl", parse_duration),
    ("CACHE_PORTFOLIO_TTL", "portfolio_ttl", parse_duration),
    ("CACHE_RISK_TTL", "risk_ttl", parse_duration),
    ("CACHE_SESSION_TTL", "session_ttl", parse_duration),
    ("CACHE_COMPRESSION", "compression", str.lower),
    ("CACHE_COMPRESS_THRESHOLD", "compress_threshold", int),
    ("CACHE_MAX_KEY_LENGTH", "max_key_length", int),
    ("CACHE_MAX_VALUE_BYTES", "max_value_bytes", int),
    ("CACHE_OP_TIMEOUT", "op_timeout", parse_duration),
]


@dataclass
class Config:
    """The Go Config's settings that a Python service needs. Defaults are
    the Go library's (DefaultTTL and so on)."""

    redis_url: str = ""
    redis_host: str = ""
    redis_port: int = 6379
    redis_db: int = 0
    redis_username: str = ""
    redis_password: str = field(default="", repr=False)
    redis_ssl: bool = False
    key_prefix: str = "trading"
    default_ttl: float = 3600.0
    market_data_ttl: float = 60.0
    portfolio_ttl: float = 300.0
    risk_ttl: float = 180.0
    session_ttl: float = 1800.0
    compression: str = "zstd"
    compress_threshold: int = 1024
    max_key_length: int = DEFAULT_MAX_KEY_LENGTH
    max_value_bytes: int = 16 << 20
    op_timeout: float = 0.1
    keyring: Keyring | None = field(default=None, repr=False)
    # Per-namespace TTLs in code, over the policies above.
    namespace_ttls: dict[str, float] = field(default_factory=dict)
    # Namespaces sealed with keyring; by default the session namespace,
    # once keys are configured, as in Go.
    sealed_namespaces: set[str] | None = None

    def ttl_for(self, namespace: str) -> float:
        if namespace in self.namespace_ttls:
            return self.namespace_ttls[namespace]
        return {NAMESPACE_MARKET_DATA: self.market_data_ttl, NAMESPACE_PORTFOLIO: self.portfolio_ttl,
                NAMESPACE_RISK: self.risk_ttl, NAMESPACE_SESSION: self.session_ttl}.get(namespace, self.default_ttl)

    def sealed(self, namespace: str) -> bool:
        if self.sealed_namespaces is not None:
            return namespace in self.sealed_namespaces
        return self.keyring is not None and namespace == NAMESPACE_SESSION

    def validate(self) -> None:
        problems = []
        if reason := check_name(self.key_prefix):
            problems.append(f"CACHE_KEY_PREFIX: {reason}")
        if self.compression not in ("zstd", "none"):
            problems.append(f"CACHE_COMPRESSION={self.compression!r}: Python writes zstd or none "
                            "(s2 is Go-only: a namespace shared with Python must use zstd or none)")
        for name, ttl in [("CACHE_DEFAULT_TTL", self.default_ttl), ("CACHE_MARKET_DATA_TTL", self.market_data_ttl),
                          ("CACHE_PORTFOLIO_TTL", self.portfolio_ttl), ("CACHE_RISK_TTL", self.risk_ttl),
                          ("CACHE_SESSION_TTL", self.session_ttl)]:
            if ttl < 0:
                problems.append(f"{name}: must not be negative")
        if not 0 < self.redis_port < 65536:
            problems.append("REDIS_PORT: out of range 1-65535")
        if self.sealed_namespaces and self.keyring is None:
            problems.append("sealed namespaces need CACHE_ENCRYPTION_KEYS")
        if problems:
            raise ConfigError("; ".join(problems))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Config":
        """The settings from REDIS_* and CACHE_*, as the Go library reads
        them. A value that cannot be read raises ConfigError naming it."""
        c = cls()
        problems = []

        for var, attr, conv in SETTINGS:
            text = environ.get(var, "")
            if text == "":
                continue
            try:
                setattr(c, attr, conv(text))
            except ValueError as e:
                problems.append(f"{var}: {e}")
        try:
            c.keyring = Keyring.from_env(environ)
        except ValueError as e:
            problems.append(str(e))
        if problems:
            raise ConfigError("; ".join(problems))
        c.validate()
        return c

    def redis_kwargs(self) -> dict:
        """Arguments for redis.asyncio.Redis (or from_url)."""
        kw = {"socket_timeout": max(self.op_timeout, 0.001), "socket_connect_timeout": 5.0}
        if self.redis_url:
            return {"url": self.redis_url, **kw}
        return {"host": self.redis_host or "127.0.0.1", "port": self.redis_port, "db": self.redis_db,
                "username": self.redis_username or None, "password": self.redis_password or None,
                "ssl": self.redis_ssl, **kw}
