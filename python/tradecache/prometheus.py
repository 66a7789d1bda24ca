"""A Prometheus collector for a CacheManager (python3-prometheus-client,
from Debian). It reads the manager's figures at each scrape, so nothing is
counted twice and nothing runs between scrapes:

    from prometheus_client import REGISTRY
    from tradecache.prometheus import CacheCollector
    REGISTRY.register(CacheCollector(cache_manager))

Metrics: tradecache_hits_total, _misses_total, _sets_total, _deletes_total
and _errors_total by namespace; tradecache_operation_latency_seconds
(p50, p95, p99 of the last 4096 of each operation) by operation;
tradecache_breaker_open (1 while the breaker is not closed) and
tradecache_breaker_rejected_total. The names match the Go side's
/metrics where both have the figure.
"""

from __future__ import annotations

from typing import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .cache import CacheManager, _percentile


class CacheCollector(Collector):
    def __init__(self, manager: CacheManager):
        self.manager = manager

    def collect(self) -> Iterator:
        rc = self.manager._redis_cache
        for field in ("hits", "misses", "sets", "deletes", "errors"):
            c = CounterMetricFamily(f"tradecache_{field}", f"Cache {field} since the manager was made, by namespace",
                                    labels=["namespace"])
            for ns, counts in sorted(rc.counts.items()):
                c.add_metric([ns], getattr(counts, field))
            yield c
        g = GaugeMetricFamily("tradecache_operation_latency_seconds",
                              "Latency of the last operations, by operation and quantile",
                              labels=["op", "quantile"])
        for op, w in sorted(rc.windows.items()):
            lat = sorted(w.lat)
            for q in (0.5, 0.95, 0.99):
                g.add_metric([op, str(q)], _percentile(lat, q))
        yield g
        b = rc.breaker
        yield GaugeMetricFamily("tradecache_breaker_open", "1 while the circuit breaker is not closed",
                                value=float(any(x.state != "closed" for x in rc.breakers())))
        yield CounterMetricFamily("tradecache_breaker_rejected", "Calls failed fast by an open breaker",
                                  value=sum(x.rejected for x in rc.breakers()) if b else 0)
