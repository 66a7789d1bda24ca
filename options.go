package tradecache

import (
	"log/slog"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tradecache/tradecache/store"
)

// Option customizes New.
type Option func(*options)

type options struct {
	store          store.Store
	logger         *slog.Logger
	clock          Clock
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
}

// WithStore makes the Cache use s instead of building a store from the
// configuration. The Cache does not close a store it was given.
func WithStore(s store.Store) Option { return func(o *options) { o.store = s } }

// WithLogger sets the logger for slow operations and failures. The default
// is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock makes the Cache read the time from c.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }
