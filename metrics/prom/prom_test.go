package prom_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/leaktest"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/metrics/prom"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// scrape serves the registry through promhttp, as Prometheus would see it,
// and parses the text exposition format.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s not exposed", name)
	}
next:
	for _, m := range f.Metric {
		for k, v := range labels {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no %s with labels %v", name, labels)
	return nil
}

func TestCollectorThroughPromhttp(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	on := true
	c := cachetest.Open(t, tradecache.Config{EnableMetrics: &on, Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr}})
	reg := prometheus.NewRegistry()
	reg.MustRegister(prom.NewCollector(c))

	md := c.Namespace("md")
	for _, k := range []string{"AAPL", "MSFT", "GOOG"} {
		if err := md.Set(ctx, k, k, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var s string
	md.Get(ctx, "AAPL", &s)
	md.Get(ctx, "MSFT", &s)
	md.Get(ctx, "NOPE", &s)
	md.Get(ctx, "GOOG", new(int)) // decodes into the wrong type: a serialization error

	fams := scrape(t, reg)
	for labels, want := range map[[3]string]float64{
		{"get", "md", "hit"}:   2,
		{"get", "md", "miss"}:  1,
		{"set", "md", "set"}:   3,
		{"any", "md", "error"}: 1,
	} {
		m := value(t, fams, "tradecache_operations_total", map[string]string{"op": labels[0], "namespace": labels[1], "result": labels[2]})
		if got := m.GetCounter().GetValue(); got != want {
			t.Errorf("operations_total%v = %v, want %v", labels, got, want)
		}
	}
	h := value(t, fams, "tradecache_operation_duration_seconds", map[string]string{"op": "get"}).GetHistogram()
	if h.GetSampleCount() != 4 || h.GetSampleSum() <= 0 || h.GetSampleSum() > 1 {
		t.Fatalf("get latency histogram: count %d sum %v, want 4 calls", h.GetSampleCount(), h.GetSampleSum())
	}
	if last := h.Bucket[len(h.Bucket)-1]; last.GetCumulativeCount() != 4 {
		t.Fatalf("the 1s bucket holds %d of 4 calls", last.GetCumulativeCount())
	}
	if v := value(t, fams, "tradecache_operation_duration_seconds", map[string]string{"op": "set"}).GetHistogram().GetSampleCount(); v != 3 {
		t.Fatalf("set latency count %d, want 3", v)
	}
	if v := value(t, fams, "tradecache_errors_total", map[string]string{"kind": "serialization"}).GetCounter().GetValue(); v != 1 {
		t.Fatalf("serialization errors %v, want 1", v)
	}
	if v := value(t, fams, "tradecache_invalidations_queued", nil).GetGauge().GetValue(); v != 0 {
		t.Fatalf("invalidations_queued %v, want 0", v)
	}
	if v := value(t, fams, "tradecache_invalidations_total", map[string]string{"event": "dropped"}).GetCounter().GetValue(); v != 0 {
		t.Fatalf("invalidations dropped %v, want 0", v)
	}
	if v := value(t, fams, "tradecache_breaker_state", nil).GetGauge().GetValue(); v != 0 {
		t.Fatalf("breaker_state %v, want 0 (closed)", v)
	}
	if v := value(t, fams, "tradecache_redis_connected_clients", nil).GetGauge().GetValue(); v < 1 {
		t.Fatalf("redis_connected_clients %v", v)
	}
	if v := value(t, fams, "tradecache_redis_used_memory_bytes", nil).GetGauge().GetValue(); v < 100_000 {
		t.Fatalf("redis_used_memory_bytes %v", v)
	}
	if v := value(t, fams, "tradecache_redis_keyspace_hits_total", nil).GetCounter().GetValue(); v < 3 {
		t.Fatalf("redis_keyspace_hits_total %v, want at least the 3 GETs that found a key", v)
	}
	// Nothing was registered globally.
	if mfs, _ := prometheus.DefaultGatherer.Gather(); len(mfs) > 0 {
		for _, mf := range mfs {
			if len(mf.GetName()) > 10 && mf.GetName()[:10] == "tradecache" {
				t.Fatalf("%s registered on the default registry", mf.GetName())
			}
		}
	}
}

// The Grafana dashboard queries only metrics this collector exposes.
func TestDashboardUsesExposedMetrics(t *testing.T) {
	b, err := os.ReadFile("../../docs/dashboards/tradecache.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	exposed := map[string]bool{}
	ch := make(chan *prometheus.Desc, 64)
	prom.NewCollector(nil).Describe(ch)
	close(ch)
	for d := range ch {
		name := strings.TrimPrefix(d.String(), `Desc{fqName: "`)
		exposed[name[:strings.Index(name, `"`)]] = true
	}
	re := regexp.MustCompile(`tradecache_[a-z_]+`)
	if len(dash.Panels) < 5 {
		t.Fatalf("%d panels", len(dash.Panels))
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range re.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")
				if !exposed[base] {
					t.Errorf("panel %q queries %s, which the collector does not expose", p.Title, m)
				}
			}
		}
	}
}
