package tradecache

import (
	"context"
	"time"

	"github.com/tradecache/tradecache/internal/keyslot"
)

// versionKey names the key that records a versioned value's version, or
// returns "" for a key whose braces form no hash tag. Keys cannot contain
// spaces, so it cannot collide with a caller's key. It begins with the
// value key, so a prefix-restricted ACL user may touch it and
// ClearNamespace removes it; and it hashes to the value key's slot, as the
// version-guard script needs on a Redis Cluster: "trading:market_data:AAPL
// ver{4nt}", where 4nt hashes to AAPL's slot, or the value key's own tag
// ("trading:market_data:{AAPL}:bid ver").
func versionKey(full string) string {
	k, ok := keyslot.Companion(full, " ver")
	if !ok {
		return ""
	}
	return k
}

// SetIfNewer stores value under key only if version is greater than the
// version of what is stored (nothing stored counts as lower), atomically
// on the server, and reports whether the write was applied. A late or
// out-of-order publisher therefore never overwrites newer data. ttl 0
// means the namespace's policy.
func (n *Namespace) SetIfNewer(ctx context.Context, key string, value any, version uint64, ttl time.Duration) (applied bool, err error) {
	const op = "set"
	full, err := n.key(op, key)
	if err != nil {
		return false, err
	}
	if ttl, err = n.ttlFor(op, key, ttl); err != nil {
		return false, err
	}
	verKey := versionKey(full)
	if verKey == "" {
		return false, &KeyError{Op: op, Namespace: n.name, Key: key, Reason: "has braces that form no hash tag: a versioned key's braces must enclose a tag, as in {AAPL}:bid, so that its version can share its cluster slot"}
	}
	b, err := n.encode(nil, op, key, full, value, nil)
	if err != nil {
		return false, err
	}
	applied, err = n.setIfNewer(ctx, key, full, verKey, b, version, ttl)
	if err != nil {
		return false, n.fail(op, key, err)
	}
	if applied {
		n.wrote(1)
	}
	return applied, nil
}
