package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/trading"
	"github.com/tradecache/tradecache/trading/bars"
)

// runBars is `tradecache bars tail SYMBOL...`: each symbol's latest final
// bar of the interval, then every bar as package bars' workers publish it,
// until Ctrl-C.
func runBars(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "tail" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprintln(stdout, barsUsage)
			return errHelp
		}
		fmt.Fprintln(stderr, barsUsage)
		return usageError{msg: "bars needs a subcommand: tail"}
	}
	fs := flag.NewFlagSet("bars tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per bar")
	interval := fs.Duration("interval", time.Second, "the bars' interval")
	if err := fs.Parse(args[1:]); err != nil {
		return flagError(err)
	}
	if fs.NArg() == 0 {
		return usageError{msg: "bars tail needs at least one symbol"}
	}
	if *interval < time.Millisecond || *interval%time.Millisecond != 0 {
		return usageError{msg: "--interval must be a whole number of milliseconds"}
	}
	c, err := openCache(ctx, false, false, stderr)
	if errors.Is(err, errNoRedis) {
		return usageError{msg: "no Redis address: set REDIS_URL or REDIS_HOST (or REDIS_CLUSTER_ADDRS, or REDIS_SENTINEL_ADDRS with REDIS_SENTINEL_MASTER); bars tail reads another process's bars, which only Redis holds"}
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if !c.HasStreams() {
		return usageError{msg: "bars tail: the store in use keeps no streams"}
	}
	enc := json.NewEncoder(stdout)
	print := func(b trading.Bar, current bool) error {
		if *asJSON {
			return enc.Encode(map[string]any{"symbol": b.Symbol, "interval": b.Interval, "start": b.Start.Format(time.RFC3339Nano),
				"open": codec.DecimalString(b.Open), "high": codec.DecimalString(b.High), "low": codec.DecimalString(b.Low),
				"close": codec.DecimalString(b.Close), "volume": codec.DecimalString(b.Volume), "vwap": codec.DecimalString(b.VWAP),
				"rolling_volume": codec.DecimalString(b.RollingVolume), "trades": b.Trades, "late": b.Late, "current": current})
		}
		tag := ""
		if current {
			tag = "  (latest before the tail)"
		}
		_, err := fmt.Fprintf(stdout, "%s  %-8s %-4s O %-10s H %-10s L %-10s C %-10s V %-8s VWAP %-12s trades %d%s\n",
			b.Start.Format("15:04:05.000"), b.Symbol, b.Interval, codec.DecimalString(b.Open), codec.DecimalString(b.High),
			codec.DecimalString(b.Low), codec.DecimalString(b.Close), codec.DecimalString(b.Volume), codec.DecimalString(b.VWAP), b.Trades, tag)
		return err
	}
	for u, err := range bars.Subscribe(ctx, c, fs.Args(), *interval) {
		if ctx.Err() != nil {
			return nil // Ctrl-C: the end of a tail, not a failure
		}
		if err != nil {
			fmt.Fprintf(stderr, "tradecache: bars: %v (retrying)\n", err)
			continue
		}
		if err := print(u.Bar, u.Current); err != nil {
			return err
		}
	}
	return nil
}

const barsUsage = `usage: tradecache bars tail [--interval 1s] [--json] SYMBOL...

Prints each symbol's latest final bar of the interval, then every bar
package bars' workers publish (tradecache demo --duration runs one), as it
closes, until Ctrl-C. Needs Redis.`
