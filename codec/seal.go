package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Sealing errors. None of them, nor any other error of this package,
// contains key material: only key ids.
var (
	// ErrUnknownKey means a sealed value names a key id the keyring does
	// not hold (a rotated-out key, or another service's).
	ErrUnknownKey = errors.New("codec: sealed with an unknown key")
	// ErrTampered means authentication failed: the ciphertext, its header
	// or the storage key it is bound to was changed, or it is truncated.
	ErrTampered = errors.New("codec: sealed value failed authentication")
	// ErrNotSealed means a namespace that seals its values read one that
	// is not sealed; it is refused, since anyone who can write to Redis
	// could have planted it.
	ErrNotSealed = errors.New("codec: value is not sealed")
)

const (
	keyLen      = 32 // AES-256
	nonceLen    = 12 // GCM's standard nonce
	maxKeyIDLen = 32
)

// Key is one named AES-256 key.
type Key struct {
	ID     string // 1 to 32 of [A-Za-z0-9_.-]; stored beside each sealed value
	Secret []byte // exactly 32 bytes
}

// String never prints the secret.
func (k Key) String() string { return "codec.Key{ID:" + k.ID + " Secret:[REDACTED]}" }

// GoString never prints the secret.
func (k Key) GoString() string { return k.String() }

// ParseKeys parses "id:base64,id:base64,...", the form of
// CACHE_ENCRYPTION_KEYS. The first key seals new values; every key opens
// values sealed under it, which is how rotation works: put the new key
// first and keep the old one until its values have expired. Errors name
// the position and id, never the secret.
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		id, enc, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("codec: key %d: want id:base64", i+1)
		}
		secret, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			if secret, err = base64.RawStdEncoding.DecodeString(enc); err != nil {
				return nil, fmt.Errorf("codec: key %d (%q): not base64", i+1, id)
			}
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return keys, nil
}

// Keyring holds the keys a Codec seals and opens with. It is immutable and
// safe for concurrent use.
type Keyring struct {
	active string
	aeads  map[string]cipher.AEAD
}

// NewKeyring checks the keys and returns a keyring whose first key seals.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("codec: a keyring needs at least one key")
	}
	r := &Keyring{active: keys[0].ID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, k := range keys {
		if k.ID == "" || len(k.ID) > maxKeyIDLen || strings.Trim(k.ID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != "" {
			return nil, fmt.Errorf("codec: key id %q: want 1 to %d of [A-Za-z0-9_.-]", k.ID, maxKeyIDLen)
		}
		if len(k.Secret) != keyLen {
			return nil, fmt.Errorf("codec: key %q is %d bytes, want %d (AES-256)", k.ID, len(k.Secret), keyLen)
		}
		if _, dup := r.aeads[k.ID]; dup {
			return nil, fmt.Errorf("codec: key id %q appears twice", k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", k.ID, err)
		}
		r.aeads[k.ID] = aead
	}
	return r, nil
}

// ActiveID returns the id of the key that seals new values.
func (r *Keyring) ActiveID() string { return r.active }

// additionalData binds a sealed value to its header and its storage key,
// so a value copied under another key, or with its header changed, fails
// to open.
func additionalData(head []byte, storageKey string) []byte {
	ad := make([]byte, 0, len(head)+len(storageKey))
	ad = append(ad, head...)
	return append(ad, storageKey...)
}

// seal replaces the payload that follows the header at out[start] with
// keyIDLen | keyID | nonce | AES-256-GCM(payload).
func (r *Keyring) seal(out []byte, start int, storageKey string) ([]byte, error) {
	out[start] |= flagSealed
	payload := append([]byte(nil), out[start+1:]...)
	out = append(out[:start+1], byte(len(r.active)))
	out = append(out, r.active...)
	head := append([]byte(nil), out[start:]...)
	var nonce [nonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	out = append(out, nonce[:]...)
	return r.aeads[r.active].Seal(out, nonce[:], payload, additionalData(head, storageKey)), nil
}

// open checks and decrypts a sealed body (everything after the header
// byte h) and returns the payload.
func (r *Keyring) open(h byte, body []byte, storageKey string) ([]byte, error) {
	if len(body) < 1 {
		return nil, fmt.Errorf("%w: truncated before the key id", ErrTampered)
	}
	n := int(body[0])
	if n == 0 || n > maxKeyIDLen || len(body) < 1+n+nonceLen+16 {
		return nil, fmt.Errorf("%w: truncated sealed value", ErrTampered)
	}
	id := string(body[1 : 1+n])
	aead, ok := r.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w: key id %q", ErrUnknownKey, id)
	}
	head := append([]byte{h}, body[:1+n]...)
	nonce := body[1+n : 1+n+nonceLen]
	pt, err := aead.Open(nil, nonce, body[1+n+nonceLen:], additionalData(head, storageKey))
	if err != nil {
		return nil, fmt.Errorf("%w (key id %q)", ErrTampered, id)
	}
	return pt, nil
}
