package tradecache

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tradecache/tradecache/store/memstore"
)

// Staging and production never fall back to the in-memory store; nor does
// any environment where a Redis setting without an address says Redis was
// meant.
func TestNoSilentInMemoryFallback(t *testing.T) {
	for _, e := range []map[string]string{
		{"CACHE_ENVIRONMENT": "production"},
		{"CACHE_ENVIRONMENT": "staging"},
		{"REDIS_PASSWORD": "pw"},
		{"REDIS_PORT": "6380"},
	} {
		_, err := configFrom(env(e))
		var ce *ConfigError
		if !errors.As(err, &ce) || !ce.Has("REDIS_HOST") || !strings.Contains(err.Error(), "REDIS_URL") || strings.Contains(err.Error(), "pw\"") {
			t.Errorf("%v: %v; want a ConfigError naming REDIS_HOST and REDIS_URL", e, err)
		}
	}
	if _, err := configFrom(env(map[string]string{"CACHE_ENVIRONMENT": "development"})); err != nil {
		t.Fatalf("development without Redis: %v", err)
	}
	ctx := context.Background()
	if _, err := New(ctx, Config{Environment: Production}); !errors.As(err, new(*ConfigError)) {
		t.Fatalf("New in production without Redis: %v", err)
	}
	mem, _ := memstore.New(memstore.Options{})
	c, err := New(ctx, Config{Environment: Production}, WithStore(mem))
	if err != nil {
		t.Fatalf("New in production with a store of its own: %v", err)
	}
	c.Close()
}

// A typo in a variable's name is refused with the name it was meant to
// be; other unknown REDIS_* variables (a platform's) are only listed.
func TestUnknownVariables(t *testing.T) {
	t.Setenv("REDIS_ULR", "redis://127.0.0.1:1")
	t.Setenv("REDIS_SERVICE_HOST", "10.0.0.1")
	_, err := ConfigFromEnv()
	var ce *ConfigError
	if !errors.As(err, &ce) || !ce.Has("REDIS_ULR") || !strings.Contains(err.Error(), "did you mean REDIS_URL?") || ce.Has("REDIS_SERVICE_HOST") {
		t.Fatalf("ConfigFromEnv = %v; want REDIS_ULR refused with a REDIS_URL hint, REDIS_SERVICE_HOST not", err)
	}
	u := UnknownEnv()
	if !slices.Contains(u, "REDIS_ULR (did you mean REDIS_URL?)") || !slices.ContainsFunc(u, func(s string) bool { return strings.HasPrefix(s, "REDIS_SERVICE_HOST") }) {
		t.Fatalf("UnknownEnv = %q", u)
	}
}
