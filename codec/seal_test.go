package codec_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tradecache/tradecache/codec"
)

func key(id string, fill byte) codec.Key {
	return codec.Key{ID: id, Secret: bytes.Repeat([]byte{fill}, 32)}
}

func sealer(t *testing.T, keys ...codec.Key) *codec.Codec {
	t.Helper()
	ring, err := codec.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return newCodec(t, codec.Options{Keys: ring, Seal: true, CompressThreshold: 16})
}

type session struct {
	User  string `json:"user"`
	Token string `json:"token"`
}

func TestSealRoundTripHidesPlaintext(t *testing.T) {
	c := sealer(t, key("k1", 1))
	in := session{User: "trader-7", Token: "distinctive-session-secret"}
	b, err := c.Marshal("trading:session:s1", in)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := codec.ParseHeader(b); !h.Sealed {
		t.Fatal("header does not say sealed")
	}
	if bytes.Contains(b, []byte("distinctive")) || bytes.Contains(b, []byte("trader-7")) {
		t.Fatal("plaintext visible in the sealed value")
	}
	var out session
	if err := c.Unmarshal("trading:session:s1", b, &out); err != nil || out != in {
		t.Fatalf("round trip: %+v, %v", out, err)
	}
	big := strings.Repeat("compressible ", 1000)
	b, _ = c.Marshal("trading:session:s2", big)
	if h, _ := codec.ParseHeader(b); !h.Sealed || h.Compression != codec.CompressionZstd || len(b) > 1000 {
		t.Fatalf("sealed large value: %+v, %d bytes (compress before sealing)", h, len(b))
	}
	var s string
	if err := c.Unmarshal("trading:session:s2", b, &s); err != nil || s != big {
		t.Fatalf("compressed sealed round trip: %v", err)
	}
}

func TestSealRotation(t *testing.T) {
	old := sealer(t, key("2026-10", 1))
	b, _ := old.Marshal("trading:session:s", "before rotation")
	rotated := sealer(t, key("2026-11", 2), key("2026-10", 1))
	var s string
	if err := rotated.Unmarshal("trading:session:s", b, &s); err != nil || s != "before rotation" {
		t.Fatalf("value sealed under the old key after rotation: %q, %v", s, err)
	}
	nb, _ := rotated.Marshal("trading:session:s", "after rotation")
	if !bytes.Contains(nb, []byte("2026-11")) {
		t.Fatal("new writes do not use the new key")
	}
	if err := old.Unmarshal("trading:session:s", nb, &s); !errors.Is(err, codec.ErrUnknownKey) {
		t.Fatalf("old ring reading a new-key value = %v, want ErrUnknownKey", err)
	}
}

func TestSealWrongKeyTamperAndKeySwap(t *testing.T) {
	c := sealer(t, key("k1", 1))
	b, _ := c.Marshal("trading:session:alice", session{User: "alice"})
	var out session

	imposter := sealer(t, key("k1", 9)) // same id, different secret
	if err := imposter.Unmarshal("trading:session:alice", b, &out); !errors.Is(err, codec.ErrTampered) {
		t.Fatalf("wrong key = %v, want ErrTampered", err)
	}
	for i := 1; i < len(b); i++ {
		bad := append([]byte{}, b...)
		bad[i] ^= 0x40
		err := c.Unmarshal("trading:session:alice", bad, &out)
		if err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	for n := 0; n < len(b); n++ {
		if err := c.Unmarshal("trading:session:alice", b[:n], &out); err == nil {
			t.Fatalf("truncation to %d bytes went unnoticed", n)
		}
	}
	if err := c.Unmarshal("trading:session:bob", b, &out); !errors.Is(err, codec.ErrTampered) {
		t.Fatalf("value copied under another key = %v, want ErrTampered", err)
	}
	plain, _ := newCodec(t, codec.Options{}).Marshal("trading:session:alice", session{User: "mallory"})
	if err := c.Unmarshal("trading:session:alice", plain, &out); !errors.Is(err, codec.ErrNotSealed) {
		t.Fatalf("unsealed value in a sealing codec = %v, want ErrNotSealed", err)
	}
}

func TestKeysNeverLeak(t *testing.T) {
	secret := bytes.Repeat([]byte("S3"), 16)
	k := codec.Key{ID: "prod", Secret: secret}
	for _, s := range []string{k.String(), fmt.Sprintf("%v %+v %#v", k, k, k)} {
		if strings.Contains(s, string(secret)) || strings.Contains(s, "S3S3") {
			t.Fatalf("secret printed: %s", s)
		}
	}
	for _, bad := range []codec.Key{{ID: "x", Secret: secret[:31]}, {ID: "bad id", Secret: secret}, {ID: "", Secret: secret}} {
		_, err := codec.NewKeyring(bad)
		if err == nil || strings.Contains(err.Error(), "S3S3") {
			t.Fatalf("NewKeyring(%v) = %v", bad, err)
		}
	}
	if _, err := codec.NewKeyring(k, k); err == nil {
		t.Fatal("duplicate key ids accepted")
	}
	keys, err := codec.ParseKeys("new:" + b64(2) + ", old:" + b64(1))
	if err != nil || len(keys) != 2 || keys[0].ID != "new" || keys[1].Secret[0] != 1 {
		t.Fatalf("ParseKeys = %v, %v", keys, err)
	}
	if _, err := codec.ParseKeys("nocolon"); err == nil {
		t.Fatal("ParseKeys accepted a key without an id")
	}
	if _, err := codec.ParseKeys("id:not-base64!!"); err == nil || strings.Contains(err.Error(), "not-base64!!") {
		t.Fatalf("ParseKeys(bad base64) = %v", err)
	}
	if _, err := codec.New(codec.Options{Seal: true}); err == nil {
		t.Fatal("Seal without keys accepted")
	}
}

func b64(fill byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{fill}, 32)) }
