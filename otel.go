package tradecache

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// instrumentationName names tradecache's tracer and meter.
const instrumentationName = "github.com/tradecache/tradecache"

// WithOpenTelemetry turns on OpenTelemetry (it is off by default): a span
// per store operation, with the Redis semantic-convention attributes
// (db.system.name, db.operation.name) and the namespace, never a key or a
// value; and the metrics tradecache.operations (counter, by op, namespace
// and result) and tradecache.operation.duration (histogram, seconds, by
// op). Either provider may be nil to turn on only the other.
func WithOpenTelemetry(tp trace.TracerProvider, mp metric.MeterProvider) Option {
	return func(o *options) { o.tracerProvider, o.meterProvider = tp, mp }
}

// otelHooks records operations to OpenTelemetry.
type otelHooks struct {
	tracer   trace.Tracer
	ops      metric.Int64Counter
	duration metric.Float64Histogram
	system   attribute.KeyValue
}

func newOtel(tp trace.TracerProvider, mp metric.MeterProvider, kind string) (*otelHooks, error) {
	if tp == nil && mp == nil {
		return nil, nil
	}
	h := &otelHooks{system: attribute.String("db.system.name", map[bool]string{true: "redis", false: "tradecache.memory"}[kind == "redis"])}
	if tp != nil {
		h.tracer = tp.Tracer(instrumentationName)
	}
	if mp != nil {
		m := mp.Meter(instrumentationName)
		var err error
		if h.ops, err = m.Int64Counter("tradecache.operations", metric.WithDescription("tradecache operations by op, namespace and result.")); err != nil {
			return nil, err
		}
		if h.duration, err = m.Float64Histogram("tradecache.operation.duration", metric.WithUnit("s"),
			metric.WithDescription("Latency of store operations.")); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// record reports one finished operation. The span is created after the
// fact with the operation's own start and end times, so instrumenting
// needs nothing at the call sites but the times they already take.
func (h *otelHooks) record(ctx context.Context, op, ns string, start time.Time, err error) {
	end := time.Now()
	result := "ok"
	if err != nil {
		result = "error"
	}
	if h.tracer != nil {
		_, span := h.tracer.Start(ctx, "tradecache."+op, trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(h.system, attribute.String("db.operation.name", op), attribute.String("tradecache.namespace", ns)))
		if err != nil {
			span.SetStatus(codes.Error, errKindNames[errKind(err)])
		}
		span.End(trace.WithTimestamp(end))
	}
	if h.ops != nil {
		h.ops.Add(ctx, 1, metric.WithAttributes(attribute.String("op", op), attribute.String("namespace", ns), attribute.String("result", result)))
		h.duration.Record(ctx, end.Sub(start).Seconds(), metric.WithAttributes(attribute.String("op", op)))
	}
}
