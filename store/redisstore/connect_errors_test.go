package redisstore_test

import (
	"context"
	"errors"
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
