package tradecache

import (
	"errors"
	"strings"
	"testing"

	"github.com/tradecache/tradecache/codec"
)

// A namespace shared with Python cannot be written with s2, which only Go
// reads: refused at configuration time, whether s2 is its own or the
// Cache's compression.
func TestPortableNamespaceRefusesS2(t *testing.T) {
	for _, cfg := range []Config{
		{Namespaces: map[string]NamespaceConfig{"features": {Portable: true, Compression: codec.CompressionS2}}},
		{Compression: codec.CompressionS2, Namespaces: map[string]NamespaceConfig{"features": {Portable: true}}},
	} {
		err := cfg.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "s2") {
			t.Errorf("%+v: %v, want a ConfigError about s2", cfg, err)
		}
	}
	ok := Config{Compression: codec.CompressionS2, Namespaces: map[string]NamespaceConfig{
		"features": {Portable: true, Compression: codec.CompressionZstd}, "go_only": {}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("zstd for the portable namespace, s2 elsewhere: %v", err)
	}
}
