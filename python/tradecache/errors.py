"""Every error the package raises, under one base class, CacheError.

The names are the ones of the Python layer tradecache replaced
(RedisConnectionError, CacheTimeoutError, SerializationError,
CacheConfigurationError), each meaning one thing, beside the Go library's
kinds (ErrUnavailable, ErrTimeout, ErrAuth, ErrInvalidKey, ErrTooLarge):

    CacheError
    ├── RedisConnectionError       Redis cannot be reached (Go: ErrUnavailable); alias CacheUnavailable
    │   ├── CircuitOpenError       the breaker is open: failed fast, .cause is what opened it
    │   └── CacheAuthError         Redis refused the credentials (Go: ErrAuth)
    ├── CacheTimeoutError          Redis did not answer within the operation's timeout (Go: ErrTimeout)
    ├── CacheCommandError          Redis answered with an error (a key of another type, READONLY, OOM)
    ├── SerializationError         a value that cannot be encoded, or a stored one that cannot be decoded
    │   └── EnvelopeError          a stored value a reader must refuse (.kind: corrupt, tampered, ...)
    ├── CacheConfigurationError    a setting that cannot work; alias ConfigError
    ├── InvalidKeyError            a key or namespace outside the grammar; nothing was sent
    ├── NoStreamsError             the backend keeps no streams (the in-memory one; Go: ErrNoStreams)
    ├── BadEntryError              a stream entry a subscriber refused (Go: feed.ErrBadEntry)
    └── ValueTooLarge              an encoded value over max_value_bytes; nothing was written

Each carries what happened in its message, and where it applies the
operation, namespace and key (.op, .namespace, .key) for logs and metrics.
"""

from __future__ import annotations


class CacheError(Exception):
    """Base of every error the cache raises."""

    op: str = ""
    namespace: str = ""
    key: str = ""

    def with_context(self, op: str = "", namespace: str = "", key: str = "") -> "CacheError":
        self.op, self.namespace, self.key = op, namespace, key
        return self


class RedisConnectionError(CacheError):
    """Redis cannot be reached: refused, reset, a dead node, no master."""


CacheUnavailable = RedisConnectionError


class CircuitOpenError(RedisConnectionError):
    """The circuit breaker is open: the call failed at once without
    reaching Redis. cause is the failure that opened it (a
    CacheAuthError after a password rotation)."""

    def __init__(self, message: str, cause: BaseException | None = None):
        super().__init__(message)
        self.cause = cause


class CacheAuthError(RedisConnectionError):
    """Redis refused the credentials (a rotated password, a missing ACL
    user): waiting will not help until the configuration changes."""


class CacheTimeoutError(CacheError, TimeoutError):
    """Redis did not answer within the operation's timeout."""


class CacheCommandError(CacheError):
    """Redis answered with an error: a key holding another type, READONLY,
    OOM, NOSCRIPT. The server is up."""


class SerializationError(CacheError, ValueError):
    """A value that cannot be encoded (a type the envelope has no form
    for, an integer beyond 64 bits), or a stored one that cannot be
    decoded."""


class CacheConfigurationError(CacheError, ValueError):
    """A setting that cannot work; nothing was connected or written."""


ConfigError = CacheConfigurationError


class InvalidKeyError(CacheError, ValueError):
    """A key or namespace outside the grammar; nothing was sent."""


class NoStreamsError(CacheError):
    """The backend keeps no streams (the in-memory one): the feed needs
    Redis."""


class BadEntryError(CacheError):
    """A stream entry that a subscriber refused: its version is unreadable,
    is not its quote's seq, or does not rise above the one delivered before
    it (an entry planted with a raw XADD, or a corrupt one). The subscriber
    reads the symbol again from a snapshot and goes on."""


class ValueTooLarge(CacheError, ValueError):
    """An encoded value over max_value_bytes; nothing was written."""
