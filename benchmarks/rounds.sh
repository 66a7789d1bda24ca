#!/bin/sh
# rounds.sh: the fast path's figures (docs/benchmarks.md, "The fast path")
# as interleaved rounds. It builds the root, trading and trading/feed test
# binaries once, then runs ROUNDS rounds of their benchmarks one after the
# other, and prints each ratio per round: tradecache beside the raw client
# in the same binary's run. The raw rows move with the machine between
# rounds; read the ranges. No -race: benchmarks only.
#
#   ROUNDS=3 GET_N=200000x MANY_N=5000x PUB_T=3s sh benchmarks/rounds.sh
set -eu
ROUNDS=${ROUNDS:-3}
GET_N=${GET_N:-200000x}
MANY_N=${MANY_N:-5000x}
PUB_T=${PUB_T:-3s}
GO=${GO:-go}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$root"
$GO test -c -o "$dir/root.test" .
$GO test -c -o "$dir/trading.test" ./trading
$GO test -c -o "$dir/feed.test" ./trading/feed
out="$dir/rounds.txt"
for r in $(seq "$ROUNDS"); do
	echo "== round $r" >>"$out"
	echo "round $r of $ROUNDS ($(date +%T))" >&2
	"$dir/root.test" -test.run '^$' -test.bench 'BenchmarkGet$/.*/parallel50' -test.benchtime "$GET_N" | grep '^Bench' >>"$out"
	"$dir/root.test" -test.run '^$' -test.bench 'BenchmarkGetMany100/.*/parallel50' -test.benchtime "$MANY_N" | grep '^Bench' >>"$out"
	"$dir/trading.test" -test.run '^$' -test.bench 'MarketQuotes100|QuoteCodec' -test.benchmem | grep '^Bench' >>"$out"
	"$dir/feed.test" -test.run '^$' -test.bench 'BenchmarkPublish(Parallel|Batch50)$' -test.benchtime "$PUB_T" | grep '^Bench' >>"$out"
done
python3 - "$out" <<'PY'
import sys

rounds = []
for line in open(sys.argv[1]):
    if line.startswith("== round"):
        rounds.append({})
        continue
    f = line.split()
    vals = {}
    for i in range(2, len(f) - 1, 2):
        try:
            vals[f[i + 1]] = float(f[i])
        except ValueError:
            pass
    rounds[-1][f[0].rsplit("-", 1)[0]] = vals

def col(name, unit):
    return [r[name][unit] for r in rounds]

def ratio(ours, raw, unit="ns/op", faster_is_smaller=True):
    return [round(r[raw][unit] / r[ours][unit] if faster_is_smaller else r[ours][unit] / r[raw][unit], 2) for r in rounds]

def show(label, values, goal=""):
    print(f"{label:<60} {', '.join(str(v) for v in values):<24} {goal}")

G, M, Q, P = "BenchmarkGet/", "BenchmarkGetMany100/", "BenchmarkMarketQuotes100/", "BenchmarkPublish"
show("quote decode, generated (ns)", col("BenchmarkQuoteCodec/Decode/canonical", "ns/op"), "<= 250 ns, 1 alloc")
show("  allocations", col("BenchmarkQuoteCodec/Decode/canonical", "allocs/op"))
show("Get raw bytes, 50 g : rueidis tuned", ratio(G + "tradecache-bytes/parallel50", G + "raw-rueidis-tuned/parallel50"), ">= 0.85")
show("  p99 (us)", col(G + "tradecache-bytes/parallel50", "p99-µs"), "<= 1000")
show("Get quote, 50 g : tuned + decode", ratio(G + "tradecache/parallel50", G + "raw-rueidis-tuned+decode/parallel50"))
show("  generated", ratio(G + "tradecache-generated/parallel50", G + "raw-rueidis-tuned+decode/parallel50"))
for name, goal in [("tradecache", ">= 0.95"), ("tradecache-handle", ""), ("tradecache-generated", ">= 1.5"), ("tradecache-handle-generated", "")]:
    show(f"GetMany 100 {name}, 50 g : MGET + decode", ratio(M + name + "/parallel50", M + "raw-rueidis-MGET+decode/parallel50"), goal)
show("Market.Quotes 100, 1 g : MGET", ratio(Q + "Market.Quotes/goroutines=1", Q + "raw-MGET/goroutines=1"), ">= 0.55")
show("Market.Quotes 100, 50 g : MGET", ratio(Q + "Market.Quotes/goroutines=50", Q + "raw-MGET/goroutines=50"), ">= 0.40")
show("Publish, 50 g : XADD MAXLEN ~", ratio(P + "Parallel/tradecache", P + "Parallel/raw_xadd"), ">= 0.9")
show("PublishMany of 50 (quotes/s)", col(P + "Batch50/tradecache", "quotes/s"), ">= 1.3 x 43.7-48.7k")
PY
