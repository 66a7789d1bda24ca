"""The same configuration as the Go library, from the same environment
variables (docs/configuration.md), read from one table (SETTINGS): where
Redis is, the key prefix, the TTL policies, compression, the sealing keys,
the resilience bounds and the monitoring switches.

The old layer's names are kept: CacheConfig (this Config), CacheEnvironment,
CacheConfig.from_env(environment=...), config.policy.market_data_ttl and
validate(); get_cache_config() reads the process's environment once.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .envelope import Keyring
from .errors import CacheConfigurationError, ConfigError  # noqa: F401  (ConfigError: the older name)

log = logging.getLogger("tradecache")

NAMESPACE_DEFAULT = "default"
NAMESPACE_MARKET_DATA = "market_data"
NAMESPACE_PORTFOLIO = "portfolio"
NAMESPACE_RISK = "risk"
NAMESPACE_SESSION = "session"

MAX_NAME_LENGTH = 64
DEFAULT_MAX_KEY_LENGTH = 512
_NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")


class CacheEnvironment(str, enum.Enum):
    """Where the process runs: the defaults that depend on it (connection
    pool size, metrics, slow-op logs) and whether Redis is required."""

    DEVELOPMENT = "development"
    TESTING = "testing"
    STAGING = "staging"
    PRODUCTION = "production"

    def __str__(self) -> str:
        return self.value


# Go's defaults by environment (settings.go): pool size; metrics and
# slow-op logs are on except in testing.
_MAX_CONNECTIONS = {CacheEnvironment.DEVELOPMENT: 10, CacheEnvironment.TESTING: 10,
                    CacheEnvironment.STAGING: 50, CacheEnvironment.PRODUCTION: 100}


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
    if not isinstance(k, str):
        return f"not a string ({type(k).__name__})"
    if not k:
        return "empty"
    if k.isascii() and k.isprintable() and " " not in k:  # the common case, in C
        return f"longer than {max_len} bytes ({len(k)})" if len(k) > max_len else ""
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
    "1h30m", as the Go library reads its duration variables."""
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
    if v < 0 or v != v or v == float("inf"):
        raise ValueError(f"not a duration: {text!r}")
    return v


def parse_bool(text: str) -> bool:
    """Go's parseBool: 1/t/true/yes/y/on and 0/f/false/no/n/off, any case."""
    t = text.strip().lower()
    if t in ("1", "t", "true", "yes", "y", "on"):
        return True
    if t in ("0", "f", "false", "no", "n", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _addrs(text: str) -> list[str]:
    out = [a.strip() for a in text.split(",") if a.strip()]
    for a in out:
        host, sep, port = a.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{a!r} is not host:port")
    return out


def _environment(text: str) -> CacheEnvironment:
    try:
        return CacheEnvironment(text.strip().lower())
    except ValueError:
        raise ValueError(f"unknown environment {text!r} (want development, testing, staging or production)") from None


# The variables Python reads, each with the Config field it sets and how its
# text is read: from_env reads this table, the docs' table is held against it
# by a test (tests/test_config.py), and GO_ONLY names the Go library's
# variables that a Python process has no use for (so they are not "unknown").
SETTINGS: list[tuple[str, str, Callable[[str], object]]] = [
    ("CACHE_ENVIRONMENT", "environment", _environment),
    ("REDIS_URL", "redis_url", str),
    ("REDIS_HOST", "redis_host", str),
    ("REDIS_PORT", "redis_port", int),
    ("REDIS_DB", "redis_db", int),
    ("REDIS_USERNAME", "redis_username", str),
    ("REDIS_PASSWORD", "redis_password", str),
    ("REDIS_SSL", "redis_ssl", parse_bool),
    ("REDIS_TLS_CA_FILE", "redis_tls_ca_file", str),
    ("REDIS_TLS_CERT_FILE", "redis_tls_cert_file", str),
    ("REDIS_TLS_KEY_FILE", "redis_tls_key_file", str),
    ("REDIS_MAX_CONNECTIONS", "max_connections", int),
    ("REDIS_CLUSTER_ADDRS", "cluster_addrs", _addrs),
    ("REDIS_SENTINEL_ADDRS", "sentinel_addrs", _addrs),
    ("REDIS_SENTINEL_MASTER", "sentinel_master", str),
    ("REDIS_SENTINEL_USERNAME", "sentinel_username", str),
    ("REDIS_SENTINEL_PASSWORD", "sentinel_password", str),
    ("CACHE_KEY_PREFIX", "key_prefix", str),
    ("CACHE_DEFAULT_TTL", "default_ttl", parse_duration),
    ("CACHE_MARKET_DATA_TTL", "market_data_ttl", parse_duration),
    ("CACHE_PORTFOLIO_TTL", "portfolio_ttl", parse_duration),
    ("CACHE_RISK_TTL", "risk_ttl", parse_duration),
    ("CACHE_SESSION_TTL", "session_ttl", parse_duration),
    ("CACHE_COMPRESSION", "compression", str.lower),
    ("CACHE_COMPRESS_THRESHOLD", "compress_threshold", int),
    ("CACHE_MAX_DECODED_SIZE", "max_decoded_size", int),
    ("CACHE_MAX_BATCH_SIZE", "max_batch_size", int),
    ("CACHE_MAX_BATCH_KEYS", "max_batch_keys", int),
    ("CACHE_MAX_KEY_LENGTH", "max_key_length", int),
    ("CACHE_MAX_VALUE_BYTES", "max_value_bytes", int),
    ("CACHE_ENABLE_METRICS", "enable_metrics", parse_bool),
    ("CACHE_LOG_SLOW_OPS", "log_slow_ops", parse_bool),
    ("CACHE_SLOW_OP_THRESHOLD", "slow_op_threshold", parse_duration),
    ("CACHE_OP_TIMEOUT", "op_timeout", parse_duration),
    ("CACHE_BATCH_TIMEOUT", "batch_timeout", parse_duration),
    ("CACHE_BREAKER_FAILURES", "breaker_failures", int),
    ("CACHE_BREAKER_OPEN_TIMEOUT", "breaker_open_timeout", parse_duration),
]

# Read by the sealing keyring (Keyring.from_env), not by the table above.
KEYRING_VARIABLES = ("CACHE_ENCRYPTION_KEYS",)

# The Go library's variables that configure what only Go does (replica
# routing, the embedded store, live stats, the health ticker, the TLS
# server name): known, so not warned of, and not used here.
GO_ONLY = ("REDIS_TLS_SERVER_NAME", "REDIS_REPLICA_ADDRS", "REDIS_READ_FROM_REPLICAS", "CACHE_MEMORY_MAX_BYTES",
           "CACHE_PUBLISH_STATS", "CACHE_STATS_INTERVAL", "CACHE_INSTANCE_NAME", "CACHE_HEALTH_INTERVAL")

KNOWN_VARIABLES = frozenset([v for v, _, _ in SETTINGS] + list(KEYRING_VARIABLES) + list(GO_ONLY))


def _edits(a: str, b: str, limit: int = 2) -> int:
    """Levenshtein distance of a and b, or limit + 1 once it is over limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def unknown_variables(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """(name, nearest known name or "") for each REDIS_*/CACHE_* variable in
    environ that neither library reads: a typo (REDIS_HSOT) would otherwise
    be ignored in silence. Only names, never values (one may be a
    password)."""
    out = []
    for name in sorted(environ):
        if (name.startswith("REDIS_") or name.startswith("CACHE_")) and name not in KNOWN_VARIABLES:
            near = min(KNOWN_VARIABLES, key=lambda k: (_edits(name, k), k))
            out.append((name, near if _edits(name, near) <= 2 else
                        next(iter(difflib.get_close_matches(name, KNOWN_VARIABLES, n=1, cutoff=0.75)), "")))
    return out


@dataclass
class CachePolicy:
    """The TTL policies in seconds, as the old layer's config.policy: 0 or
    None is not "never expire" but the default policy (Go's meaning)."""

    default_ttl: float = 3600.0
    market_data_ttl: float = 60.0
    portfolio_ttl: float = 300.0
    risk_ttl: float = 180.0
    session_ttl: float = 1800.0


_POLICY_FIELDS = {f.name for f in dataclasses.fields(CachePolicy)}
_DEFAULT_POLICY = CachePolicy()


@dataclass
class Config:
    """The Go Config's settings that a Python service needs. Defaults are
    the Go library's (DefaultTTL and so on); a zero TTL, pool size, batch
    size or timeout means that default, as in Go."""

    environment: CacheEnvironment = CacheEnvironment.DEVELOPMENT
    redis_url: str = field(default="", repr=False)
    redis_host: str = ""
    redis_port: int = 6379
    redis_db: int = 0
    redis_username: str = ""
    redis_password: str = field(default="", repr=False)
    redis_ssl: bool = False
    redis_tls_ca_file: str = ""
    redis_tls_cert_file: str = ""
    redis_tls_key_file: str = ""
    max_connections: int = 0  # 0: by environment (10, 10, 50, 100)
    cluster_addrs: list[str] = field(default_factory=list)
    sentinel_addrs: list[str] = field(default_factory=list)
    sentinel_master: str = ""
    sentinel_username: str = ""
    sentinel_password: str = field(default="", repr=False)
    key_prefix: str = "trading"
    policy: CachePolicy = field(default_factory=CachePolicy)
    compression: str = "zstd"
    compress_threshold: int = 1024
    max_decoded_size: int = 16 << 20
    max_batch_size: int = 100  # keys per round trip; a larger batch is split
    max_batch_keys: int = 10000  # keys per call; more is refused
    max_key_length: int = DEFAULT_MAX_KEY_LENGTH
    max_value_bytes: int = 16 << 20
    enable_metrics: bool | None = None  # None: on, except in testing
    log_slow_ops: bool | None = None  # None: on, except in testing
    slow_op_threshold: float = 0.1
    op_timeout: float = 0.1
    batch_timeout: float = 1.0
    breaker_failures: int = 5
    breaker_open_timeout: float = 1.0
    keyring: Keyring | None = field(default=None, repr=False)
    # Per-namespace TTLs in code, over the policies above.
    namespace_ttls: dict[str, float] = field(default_factory=dict)
    # Namespaces sealed with keyring; by default the session namespace,
    # once keys are configured, as in Go.
    sealed_namespaces: set[str] | None = None
    # How decoded times come back: "datetime" (aware, to the microsecond,
    # as the old layer returned them) or "tctime" (TcTime: nanoseconds and
    # zone exactly, for a value read and written back unchanged).
    times: str = "datetime"

    # The TTL policies, flat, as the Go Config and older callers name them.
    def __getattr__(self, name: str) -> Any:
        if name in _POLICY_FIELDS:
            return getattr(self.policy, name)
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _POLICY_FIELDS:
            setattr(self.policy, name, value)
        else:
            object.__setattr__(self, name, value)

    # --- derived settings ---------------------------------------------------

    def ttl_for(self, namespace: str) -> float:
        """The namespace's TTL in seconds: its own, else its policy, else
        the default; 0 anywhere means the next one down (Go's rule)."""
        t = self.namespace_ttls.get(namespace) or 0
        if not t:
            t = {NAMESPACE_MARKET_DATA: self.policy.market_data_ttl, NAMESPACE_PORTFOLIO: self.policy.portfolio_ttl,
                 NAMESPACE_RISK: self.policy.risk_ttl, NAMESPACE_SESSION: self.policy.session_ttl
                 }.get(namespace) or 0
        return t or self.policy.default_ttl or _DEFAULT_POLICY.default_ttl

    def sealed(self, namespace: str) -> bool:
        if self.sealed_namespaces is not None:
            return namespace in self.sealed_namespaces
        return self.keyring is not None and namespace == NAMESPACE_SESSION

    @property
    def pool_size(self) -> int:
        return self.max_connections or _MAX_CONNECTIONS[CacheEnvironment(self.environment)]

    @property
    def metrics_enabled(self) -> bool:
        on = self.enable_metrics
        return on if on is not None else CacheEnvironment(self.environment) != CacheEnvironment.TESTING

    @property
    def slow_ops_logged(self) -> bool:
        on = self.log_slow_ops
        return on if on is not None else CacheEnvironment(self.environment) != CacheEnvironment.TESTING

    @property
    def topology(self) -> str:
        """"cluster", "sentinel", "standalone", or "memory" when no Redis
        address is configured."""
        if self.cluster_addrs:
            return "cluster"
        if self.sentinel_addrs:
            return "sentinel"
        if self.redis_url or self.redis_host:
            return "standalone"
        return "memory"

    def validate(self) -> None:
        """Raise CacheConfigurationError naming every setting that cannot
        work (not only the first)."""
        problems = []
        try:
            env = CacheEnvironment(self.environment)
        except ValueError:
            problems.append(f"CACHE_ENVIRONMENT: unknown environment {self.environment!r}")
            env = CacheEnvironment.DEVELOPMENT
        if reason := check_name(self.key_prefix):
            problems.append(f"CACHE_KEY_PREFIX: {reason}")
        if self.compression not in ("zstd", "none"):
            problems.append(f"CACHE_COMPRESSION={self.compression!r}: Python writes zstd or none "
                            "(s2 is Go-only: a namespace shared with Python must use zstd or none)")
        for name in ("default_ttl", "market_data_ttl", "portfolio_ttl", "risk_ttl", "session_ttl"):
            v = getattr(self.policy, name)
            if v is not None and v < 0:
                problems.append(f"CACHE_{name.upper()}: must not be negative")
        for name, v in self.namespace_ttls.items():
            if v < 0:
                problems.append(f"namespace {name!r}: TTL must not be negative")
        for var, v in [("CACHE_OP_TIMEOUT", self.op_timeout), ("CACHE_BATCH_TIMEOUT", self.batch_timeout),
                       ("CACHE_BREAKER_OPEN_TIMEOUT", self.breaker_open_timeout),
                       ("CACHE_SLOW_OP_THRESHOLD", self.slow_op_threshold)]:
            if v < 0:
                problems.append(f"{var}: must not be negative")
        for var, v in [("REDIS_MAX_CONNECTIONS", self.max_connections), ("CACHE_BREAKER_FAILURES", self.breaker_failures),
                       ("CACHE_COMPRESS_THRESHOLD", self.compress_threshold)]:
            if v < 0:
                problems.append(f"{var}: must not be negative")
        for var, v in [("CACHE_MAX_BATCH_SIZE", self.max_batch_size), ("CACHE_MAX_BATCH_KEYS", self.max_batch_keys),
                       ("CACHE_MAX_KEY_LENGTH", self.max_key_length), ("CACHE_MAX_VALUE_BYTES", self.max_value_bytes),
                       ("CACHE_MAX_DECODED_SIZE", self.max_decoded_size)]:
            if v <= 0:
                problems.append(f"{var}: must be above 0")
        if not 0 < self.redis_port < 65536:
            problems.append("REDIS_PORT: out of range 1-65535")
        if self.redis_url and not re.match(r"(rediss?|unix)://", self.redis_url):
            problems.append("REDIS_URL: want redis://[user:password@]host:port[/db] or rediss:// "
                            "(the value is not shown: it may hold a password)")
        set_topologies = [v for v, on in [("REDIS_URL or REDIS_HOST", self.redis_url or self.redis_host),
                                          ("REDIS_CLUSTER_ADDRS", self.cluster_addrs),
                                          ("REDIS_SENTINEL_ADDRS", self.sentinel_addrs)] if on]
        if len(set_topologies) > 1:
            problems.append(f"{' and '.join(set_topologies)} are all set: set one topology")
        if self.sentinel_addrs and not self.sentinel_master:
            problems.append("REDIS_SENTINEL_MASTER: needed with REDIS_SENTINEL_ADDRS")
        if self.sealed_namespaces and self.keyring is None:
            problems.append("sealed namespaces need CACHE_ENCRYPTION_KEYS")
        if self.times not in ("datetime", "tctime"):
            problems.append(f"times={self.times!r}: want 'datetime' or 'tctime'")
        if self.topology == "memory" and env in (CacheEnvironment.STAGING, CacheEnvironment.PRODUCTION):
            problems.append(f"{env.value} needs Redis: set REDIS_URL or REDIS_HOST (or REDIS_CLUSTER_ADDRS, or "
                            "REDIS_SENTINEL_ADDRS with REDIS_SENTINEL_MASTER); the in-memory store is for "
                            "development and tests")
        if problems:
            raise CacheConfigurationError("invalid configuration: " + "; ".join(problems))

    @classmethod
    def from_env(cls, environment: str | CacheEnvironment | None = None,
                 environ: Mapping[str, str] | None = None, warn: bool = True) -> "Config":
        """The settings from REDIS_* and CACHE_*, as the Go library reads
        them; environment, when given, overrides CACHE_ENVIRONMENT. A value
        that cannot be read raises CacheConfigurationError naming it (every
        one, not only the first); an unknown REDIS_*/CACHE_* variable is
        warned of on the "tradecache" logger, with the nearest known name."""
        if isinstance(environment, Mapping):  # the older from_env(environ) call
            environ, environment = environment, None
        environ = os.environ if environ is None else environ
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
        if environment is not None:
            try:
                c.environment = _environment(str(environment.value if isinstance(environment, CacheEnvironment)
                                                 else environment))
            except ValueError as e:
                problems.append(f"environment: {e}")
        try:
            c.keyring = Keyring.from_env(environ)
        except ValueError as e:
            problems.append(str(e))
        # As Go's ConfigFromEnv: a name within two edits of a known one is a
        # typo whose setting would be lost, refused with the name it was
        # probably meant to be; any other unknown name is warned of.
        for name, near in unknown_variables(environ):
            if near and _edits(name, near) <= 2:
                problems.append(f"{name} is not a tradecache variable: did you mean {near}? (its value is not shown)")
            elif warn:
                log.warning("tradecache: %s is not a tradecache variable%s", name,
                            f" (did you mean {near}?)" if near else "")
        if problems:
            raise CacheConfigurationError("invalid configuration: " + "; ".join(problems))
        c.validate()
        return c



# Config(...) takes the flat TTL names (market_data_ttl=...) as well as
# policy=, as the Go Config and older callers name them: the dataclass's
# own __init__ is wrapped.
_dataclass_init = Config.__init__


def _init(self: Config, *args: Any, **kwargs: Any) -> None:
    flat = {k: kwargs.pop(k) for k in list(kwargs) if k in _POLICY_FIELDS}
    _dataclass_init(self, *args, **kwargs)
    if not isinstance(self.policy, CachePolicy):
        raise CacheConfigurationError(f"policy: want a CachePolicy, got {type(self.policy).__name__}")
    self.policy = dataclasses.replace(self.policy)  # never share another Config's policy
    for k, v in flat.items():
        setattr(self.policy, k, v)


_init.__doc__ = _dataclass_init.__doc__
Config.__init__ = _init  # type: ignore[method-assign]

CacheConfig = Config

_process_config: Config | None = None


def get_cache_config(environment: str | CacheEnvironment | None = None) -> Config:
    """The process's configuration, read from its environment once (and
    again when environment names another one)."""
    global _process_config
    if _process_config is None or (environment is not None and str(environment) != str(_process_config.environment)):
        _process_config = Config.from_env(environment)
    return _process_config
