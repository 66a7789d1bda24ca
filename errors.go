package tradecache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tradecache/tradecache/internal/flight"
	"github.com/tradecache/tradecache/store"
)

// Sentinel errors. Test for them with errors.Is; every error the Cache
// returns wraps at most one of them, except a *PartialError whose keys
// failed for different reasons, which wraps each.
var (
	// ErrUnavailable means the backing store could not be reached, or the
	// Cache was closed. It is the same value as store.ErrUnavailable.
	ErrUnavailable = store.ErrUnavailable
	// ErrTimeout means the operation's deadline passed before the store
	// answered. It is the same value as store.ErrTimeout.
	ErrTimeout = store.ErrTimeout
	// ErrNoPermission means Redis refused a command for the configured
	// ACL user (NOPERM). It is the same value as store.ErrNoPermission.
	ErrNoPermission = store.ErrNoPermission
	// ErrAuth means Redis refused the credentials (WRONGPASS, NOAUTH). It is
	// the same value as store.ErrAuth.
	ErrAuth = store.ErrAuth
	// ErrRefused means the server is up but refused the command for its
	// own state: OOM, READONLY, CLUSTERDOWN, MASTERDOWN, LOADING, BUSY,
	// MISCONF, NOREPLICAS, TRYAGAIN; the server's reply is kept in the
	// chain. It does not count against the circuit breaker. It is the same
	// value as store.ErrRefused.
	ErrRefused = store.ErrRefused
	// ErrTooLarge means a value or a batch is over a configured limit
	// (MaxValueBytes, MaxBatchKeys). Nothing was sent.
	ErrTooLarge = errors.New("tradecache: over a size limit")
	// ErrInvalidKey means a key or namespace name breaks the key grammar
	// (see KeyError). Nothing was sent to the store.
	ErrInvalidKey = errors.New("tradecache: invalid key")
	// ErrInvalidArgument means an argument other than a key was unusable:
	// a negative TTL, a nil or non-pointer destination. Nothing was sent.
	ErrInvalidArgument = errors.New("tradecache: invalid argument")
	// ErrLoadTimeout means a get-or-load's loader had not finished within
	// WithSoftTimeout or WithHardTimeout; the load goes on and stores its
	// value. It is not ErrTimeout, which says the store did not answer.
	ErrLoadTimeout = errors.New("tradecache: load timeout")
)

// maxKeyInError bounds how much of a key an error message repeats, so a
// huge or sensitive key does not flood logs.
const maxKeyInError = 64

func quoteKey(k string) string {
	if len(k) > maxKeyInError {
		return fmt.Sprintf("%q...(%d bytes)", k[:maxKeyInError], len(k))
	}
	return fmt.Sprintf("%q", k)
}

func describe(op, ns, key string) string {
	var b strings.Builder
	b.WriteString("tradecache: ")
	b.WriteString(op)
	if ns != "" {
		b.WriteString(" ")
		b.WriteString(ns)
	}
	if key != "" {
		b.WriteString(" ")
		b.WriteString(quoteKey(key))
	}
	return b.String()
}

// OpError is returned when the store fails an operation. Err wraps
// ErrUnavailable, ErrTimeout, ErrAuth, ErrNoPermission, ErrRefused,
// context.Canceled or a Redis error reply. A call refused before anything
// was sent is an *ArgumentError instead.
type OpError struct {
	Op        string // "get", "set", "get_many", ...
	Namespace string
	Key       string // the caller's key, without prefix or namespace; empty for batches
	Err       error
}

func (e *OpError) Error() string {
	return describe(e.Op, e.Namespace, e.Key) + ": " + unprefixed(e.Err)
}

// unprefixed is err's message without a leading "tradecache: ", which the
// message that wraps it already says: an error reads "tradecache: connect:
// store unavailable: ...", not "tradecache: connect: tradecache: store
// unavailable: ...".
func unprefixed(err error) string { return strings.TrimPrefix(err.Error(), "tradecache: ") }

// Unwrap returns the underlying error.
func (e *OpError) Unwrap() error { return e.Err }

// ArgumentError is returned when a call is refused before anything is
// sent to the store: Err wraps ErrInvalidArgument (a negative TTL, a bad
// destination, a value whose Validate fails, an option the call does not
// support) or ErrTooLarge (a value or batch over a configured limit).
// Nothing was written, and retrying the same call fails the same way.
type ArgumentError struct {
	Op        string
	Namespace string
	Key       string // the caller's key; empty for batches
	Err       error
}

func (e *ArgumentError) Error() string {
	return describe(e.Op, e.Namespace, e.Key) + ": " + unprefixed(e.Err)
}

// Unwrap returns ErrInvalidArgument or ErrTooLarge, with the reason.
func (e *ArgumentError) Unwrap() error { return e.Err }

// LoadError is returned by GetOrLoad and GetManyOrLoad when the load gave
// no value and no stale one could stand in: Err is the loader's own error,
// ErrLoadTimeout, a *PanicError, the caller's context's error, or
// ErrUnavailable when the Cache closed during the load. The store
// did not fail: that is an *OpError. A loader's ErrNotFound is returned
// as ErrNotFound wrapped with the op and key, not as a LoadError.
type LoadError struct {
	Op        string
	Namespace string
	Key       string // the caller's key; empty for batches
	Err       error
}

func (e *LoadError) Error() string {
	return describe(e.Op, e.Namespace, e.Key) + ": load: " + unprefixed(e.Err)
}

// Unwrap returns the load's error.
func (e *LoadError) Unwrap() error { return e.Err }

// loadFailed wraps a get-or-load's failed load for its caller.
func loadFailed(op, ns, key string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%s: %w", describe(op, ns, key), err)
	}
	return &LoadError{Op: op, Namespace: ns, Key: key, Err: loaderErr(err)}
}

// notFound is a remembered miss of get-or-load (its negative cache): the
// key's loader said there is no value, and the store still says so.
func notFound(op, ns, key string) error {
	return fmt.Errorf("%s: %w", describe(op, ns, key), ErrNotFound)
}

// PartialError is returned by GetMany when part of the store could not be
// read (a Redis Cluster shard down or its breaker open) while the rest
// was: the values of the other keys are in the destination, and Keys lists
// the caller's keys that were not read, which are neither hits nor misses.
// SetMany returns one when some items were written and Keys were not,
// and Delete when some keys were removed and Keys, which may still exist,
// were not.
//
// Errs[i] is why Keys[i] failed: ErrUnavailable or ErrTimeout when its
// shard could not be reached or its breaker is open, or the server's own
// error reply. One batch can fail for both reasons at once: a cluster
// answers CLUSTERDOWN on every shard between marking a master failed and
// promoting its replica. errors.Is and errors.As see each distinct cause.
type PartialError struct {
	Op        string
	Namespace string
	Keys      []string
	Errs      []error // Errs[i] is the cause of Keys[i]
}

func (e *PartialError) Error() string {
	verb := "not read"
	switch e.Op {
	case "set_many":
		verb = "not written"
	case "delete":
		verb = "not deleted"
	}
	return fmt.Sprintf("%s: %d keys %s: %s", describe(e.Op, e.Namespace, ""), len(e.Keys), verb, store.Summarize(e.Errs))
}

// Unwrap returns the distinct causes.
func (e *PartialError) Unwrap() []error {
	causes, _ := store.Tally(e.Errs)
	return causes
}

// KeyErr returns why key failed, or nil if it is not in Keys.
func (e *PartialError) KeyErr(key string) error {
	if i := slices.Index(e.Keys, key); i >= 0 {
		return e.Errs[i]
	}
	return nil
}

// add names key as failed for cause.
func (e *PartialError) add(key string, cause error) {
	e.Keys, e.Errs = append(e.Keys, key), append(e.Errs, cause)
}

// KeyError is returned, before anything is sent, for a key or namespace
// that breaks the key grammar documented on Namespace. It matches
// ErrInvalidKey.
type KeyError struct {
	Op        string
	Namespace string
	Key       string
	Reason    string
}

func (e *KeyError) Error() string {
	return describe(e.Op, e.Namespace, e.Key) + ": invalid key: " + e.Reason
}

// Is reports whether target is ErrInvalidKey.
func (e *KeyError) Is(target error) bool { return target == ErrInvalidKey }

// SerializationError is returned when a value cannot be encoded (nothing is
// written) or stored bytes cannot be decoded into the destination. Err
// wraps the codec's error: codec.ErrCorrupt, codec.ErrUnsupported,
// codec.ErrTooLarge or msgpack's own.
type SerializationError struct {
	Op        string
	Namespace string
	Key       string
	Type      string // the Go type being encoded or decoded into
	// Encoding says a value could not be encoded (a write, Publish, a
	// memo key); otherwise a stored value could not be decoded. It is set
	// where the error is made, not guessed from the operation's name.
	Encoding bool
	Err      error
}

func (e *SerializationError) Error() string {
	dir := "decode into"
	if e.Encoding {
		dir = "encode"
	}
	return fmt.Sprintf("%s: cannot %s %s: %s", describe(e.Op, e.Namespace, e.Key), dir, e.Type, unprefixed(e.Err))
}

// Unwrap returns the codec's error.
func (e *SerializationError) Unwrap() error { return e.Err }

func invalidArg(op, ns, key, format string, args ...any) error {
	return &ArgumentError{Op: op, Namespace: ns, Key: key, Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)}
}

// ErrNotFound is what a loader returns (or wraps) to say that the key has
// no value. GetOrLoad then remembers the miss for the namespace's negative
// TTL, when it has one, and returns an error matching ErrNotFound.
var ErrNotFound = errors.New("tradecache: not found")

// PanicError is returned to every caller waiting on a load whose loader
// panicked, with what it panicked with (Value) and its stack (Stack). The
// process lives on.
type PanicError struct {
	Value any    // what the loader panicked with
	Stack []byte // the loader's stack at the panic
}

func (e *PanicError) Error() string { return fmt.Sprintf("tradecache: loader panicked: %v", e.Value) }

// loaderErr is a load's error as callers see it: a panic the engine
// caught (internal/flight) becomes a *PanicError.
func loaderErr(err error) error {
	if p, ok := err.(*flight.Panic); ok {
		return &PanicError{Value: p.Value, Stack: p.Stack}
	}
	return err
}

// Error kinds counted in Stats.ErrorsByKind.
const (
	errUnavailable = iota
	errTimeout
	errPermission
	errSerialization
	errRefused
	errOther
	numErrKinds
)

var errKindNames = [numErrKinds]string{"unavailable", "timeout", "permission", "serialization", "refused", "other"}

func errKind(err error) int {
	var se *SerializationError
	switch {
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return errTimeout
	case errors.Is(err, ErrUnavailable):
		return errUnavailable
	case errors.Is(err, ErrNoPermission), errors.Is(err, ErrAuth):
		return errPermission
	case errors.As(err, &se):
		return errSerialization
	case errors.Is(err, ErrRefused):
		return errRefused
	}
	return errOther
}
