package redisstore_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/redisstore"
)

// Connection errors say what the server said, classified by it: a wrong
// password is WRONGPASS (not also "the server says: NOAUTH"), a missing
// one says to set REDIS_PASSWORD, and a database out of range is not an
// authentication error.
func TestConnectErrorsSayWhatIsWrong(t *testing.T) {
	srv := redistest.Start(t, redistest.Option{"requirepass", "pw"})
	open := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		name       string
		o          redisstore.Options
		auth       bool
		want, dont string
	}{
		{"wrong password", redisstore.Options{Addr: srv.Addr, Password: "nope"}, true, "WRONGPASS", "NOAUTH"},
		{"no password", redisstore.Options{Addr: srv.Addr}, true, "set REDIS_PASSWORD", "the server says"},
		{"db out of range", redisstore.Options{Addr: open.Addr, DB: 99}, false, "DB index is out of range", "authentication"},
	} {
		_, err := redisstore.Open(ctx, c.o)
		if err == nil || errors.Is(err, store.ErrAuth) != c.auth || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), c.dont) {
			t.Errorf("%s: %v; want ErrAuth %v, %q and not %q", c.name, err, c.auth, c.want, c.dont)
		}
	}
}

// A peer that is not Redis (an HTTP server) is named as such, not as
// "received unknown message type: 60".
func TestNotARedisServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := redisstore.Open(ctx, redisstore.Options{Addr: strings.TrimPrefix(srv.URL, "http://")})
	if err == nil || !strings.Contains(err.Error(), "not a Redis server") || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open on an HTTP server: %v", err)
	}
}

// A peer that hangs up without a Redis reply (PostgreSQL does, after a
// HELLO; so does a TLS-only Redis port spoken to in plain text) is not
// just "EOF": the error says to check that it is Redis and whether it
// wants TLS. A plain port spoken to in TLS (which times out: Redis waits
// for a line's end) says to use redis://.
func TestAPeerThatHangsUpIsNamed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A listener that reads what it is sent and closes, as PostgreSQL does
	// on a startup packet it cannot parse.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Read(make([]byte, 512))
			c.Close()
		}
	}()
	certs := redistest.MakeCerts(t)
	tlsOnly := redistest.StartTLS(t, certs, certs.ServerCert, certs.ServerKey, false)
	plain := redistest.Start(t)
	for _, c := range []struct {
		name string
		o    redisstore.Options
		want string
	}{
		{"hangs up", redisstore.Options{Addr: l.Addr().String()}, "without a Redis reply: check that it is a Redis server, and whether its port serves TLS only (use rediss://)"},
		{"TLS only", redisstore.Options{Addr: tlsOnly.Addr}, "whether its port serves TLS only"},
		{"plain, spoken to in TLS", redisstore.Options{Addr: plain.Addr, TLS: true, TLSCAFile: certs.CA}, "answers without TLS: use redis:// rather than rediss://"},
	} {
		_, err := redisstore.Open(ctx, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: %v; want ErrUnavailable and %q", c.name, err, c.want)
		}
	}
}
