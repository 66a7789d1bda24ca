package tradecache_test

import (
	"context"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/redistest"
)

func TestOpenTelemetry(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	c := cachetest.Open(t, tradecache.Config{Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr}}, tradecache.WithOpenTelemetry(tp, mp))
	parentCtx, parent := tp.Tracer("test").Start(ctx, "request")
	ns := c.Namespace("session")
	if err := ns.Set(parentCtx, "tok-SECRETKEY", "SECRETVALUE", time.Minute); err != nil {
		t.Fatal(err)
	}
	var v string
	ns.Get(parentCtx, "tok-SECRETKEY", &v)
	ns.Get(parentCtx, "absent", &v)
	parent.End()

	var got []string
	for _, s := range spans.Ended() {
		if s.Name() == "request" {
			continue
		}
		got = append(got, s.Name())
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s is not a child of the caller's span", s.Name())
		}
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.String()
		}
		if attrs["db.system.name"] != "redis" || attrs["tradecache.namespace"] != "session" || attrs["db.operation.name"] == "" {
			t.Errorf("%s attributes %v", s.Name(), attrs)
		}
		for k, a := range attrs {
			if strings.Contains(a, "SECRET") {
				t.Errorf("%s attribute %s carries a key or value: %q", s.Name(), k, a)
			}
		}
		if s.EndTime().Before(s.StartTime()) || s.EndTime().Sub(s.StartTime()) > time.Second {
			t.Errorf("%s times %v..%v", s.Name(), s.StartTime(), s.EndTime())
		}
	}
	if strings.Join(got, ",") != "tradecache.set,tradecache.get,tradecache.get" {
		t.Fatalf("spans %v", got)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	var durations uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					op, _ := p.Attributes.Value("op")
					counts[op.AsString()] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					durations += p.Count
				}
			}
		}
	}
	if counts["set"] != 1 || counts["get"] != 2 || durations != 3 {
		t.Fatalf("otel metrics: counts %v, %d durations", counts, durations)
	}
}
