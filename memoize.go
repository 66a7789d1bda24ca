package tradecache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/tradecache/tradecache/codec"
)

// memoCodec encodes composite memoization keys: uncompressed, unsealed,
// and deterministic (MessagePack with sorted map keys and structs in field
// order), as the wire format's golden vectors pin it.
var memoCodec, _ = codec.New(codec.Options{CompressThreshold: -1})

// memoKey derives the cache key Memoize uses for k. It is stable across
// processes and versions (Python's memo_key gives the same), and distinct
// argument values never share a key:
//
//   - a string that is itself a valid key of up to 200 bytes: "s:" + k;
//   - integers and booleans: "i:" + decimal digits, "b:true" or "b:false";
//   - anything else (structs, arrays, other strings): "h:" + the first 32
//     hex digits (128 bits) of the SHA-256 of k's wire-format encoding.
//
// The prefixes keep the forms apart ("s:i:5" is the string "i:5", "i:5"
// the number 5).
func memoKey[K comparable](k K) (string, error) {
	switch x := any(k).(type) {
	case string:
		if len(x) <= 200 && checkKey(x, 200) == "" {
			return "s:" + x, nil
		}
	case int:
		return "i:" + strconv.FormatInt(int64(x), 10), nil
	case int8:
		return "i:" + strconv.FormatInt(int64(x), 10), nil
	case int16:
		return "i:" + strconv.FormatInt(int64(x), 10), nil
	case int32:
		return "i:" + strconv.FormatInt(int64(x), 10), nil
	case int64:
		return "i:" + strconv.FormatInt(x, 10), nil
	case uint:
		return "i:" + strconv.FormatUint(uint64(x), 10), nil
	case uint8:
		return "i:" + strconv.FormatUint(uint64(x), 10), nil
	case uint16:
		return "i:" + strconv.FormatUint(uint64(x), 10), nil
	case uint32:
		return "i:" + strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return "i:" + strconv.FormatUint(x, 10), nil
	case bool:
		return "b:" + strconv.FormatBool(x), nil
	}
	b, err := memoCodec.Marshal("", k)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "h:" + hex.EncodeToString(sum[:16]), nil
}

// Memoize wraps fn so that its results are cached in ns under a key made
// from the argument, with GetOrLoad's stampede protection, early refresh
// and fail-safe. The key is the argument itself ("s:" + k) for a string
// that is a valid key of up to 200 bytes, "i:" + digits for an integer,
// "b:true" or "b:false", and otherwise "h:" + 32 hex digits of the SHA-256
// of its wire-format encoding; Python's memo_key makes the same keys. It is the Go form of the replaced layer's @cache_result
// decorator. A stale result is returned only within the namespace's
// MaxStale; use GetOrLoad directly to see each result's Meta.
func Memoize[K comparable, V any](ns *Namespace, fn func(context.Context, K) (V, error), opts ...LoadOption) func(context.Context, K) (V, error) {
	return func(ctx context.Context, k K) (V, error) {
		key, err := memoKey(k)
		if err != nil {
			var zero V
			return zero, &SerializationError{Op: "memoize", Namespace: ns.name, Type: fmt.Sprintf("%T", k), Encoding: true, Err: err}
		}
		v, _, err := GetOrLoad(ctx, ns, key, func(ctx context.Context) (V, error) { return fn(ctx, k) }, opts...)
		return v, err
	}
}
