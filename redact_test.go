package tradecache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// urlShapes are REDIS_URLs a person may write, each holding the password
// secretPW somewhere: none of its renderings may show it.
const secretPW = "SeCrEtPw123"

var urlShapes = []struct{ name, url string }{
	{"no scheme", "app:" + secretPW + "@127.0.0.1:6390"},
	{"user and password", "redis://app:" + secretPW + "@127.0.0.1:1"},
	{"password only", "redis://:" + secretPW + "@127.0.0.1:1"},
	{"password alone before @", "redis://" + secretPW + "@127.0.0.1:1"},
	{"query password", "redis://127.0.0.1:1/0?password=" + secretPW},
	{"unencoded # in password", "redis://app:" + secretPW + "#x@127.0.0.1:1"},
	{"unencoded / in password", "redis://app:" + secretPW + "/x@127.0.0.1:1"},
	{"unencoded @ in password", "redis://app:" + secretPW + "@x@127.0.0.1:1"},
	{"unparsable", "redis://app:" + secretPW + "@[::1"},
	{"no scheme, unparsable", "app:" + secretPW + "@%zz:6390"},
	{"rediss", "rediss://app:" + secretPW + "@127.0.0.1:1"},
}

// TestNoPasswordInAnyRenderingOfAURL: every rendering of a Config, its
// RedisConfig, the environment's error and New's error, for every shape.
func TestNoPasswordInAnyRenderingOfAURL(t *testing.T) {
	for _, tc := range urlShapes {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Redis: RedisConfig{URL: tc.url}}
			var logs bytes.Buffer
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg)
			slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg)
			seen := []string{cfg.String(), fmt.Sprintf("%v|%+v|%#v", cfg, cfg, cfg), fmt.Sprint(&cfg), cfg.Redis.String(),
				fmt.Sprintf("%v|%+v|%#v", cfg.Redis, cfg.Redis, cfg.Redis), logs.String(), cfg.LogValue().String()}
			if err := cfg.Validate(); err != nil {
				seen = append(seen, err.Error())
				var ce *ConfigError
				if errors.As(err, &ce) {
					for _, fe := range ce.Fields {
						seen = append(seen, fe.Value, fe.Reason, fmt.Sprintf("%+v", fe))
					}
				}
			}
			t.Setenv("REDIS_URL", tc.url)
			if _, err := ConfigFromEnv(); err != nil {
				seen = append(seen, err.Error(), fmt.Sprintf("%+v", err))
				var ce *ConfigError
				if errors.As(err, &ce) {
					for _, fe := range ce.Fields {
						seen = append(seen, fe.Value, fe.Reason)
					}
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			off := false
			cfg.LogSlowOps, cfg.PublishStats, cfg.OpTimeout = &off, &off, 200*time.Millisecond
			if c, err := New(ctx, cfg); err != nil {
				seen = append(seen, err.Error(), fmt.Sprintf("%+v", err))
			} else {
				c.Close()
			}
			for _, s := range seen {
				if strings.Contains(s, secretPW) {
					t.Fatalf("the password is printed: %s", s)
				}
			}
		})
	}
}
