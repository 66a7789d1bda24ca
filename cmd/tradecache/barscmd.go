package main

import (
	"context"
	"encoding/json"
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
	if err := tailSubcommand("bars", barsUsage, args, stdout, stderr); err != nil {
		return err
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
	c, err := openStreams(ctx, "bars tail", "bars", stderr)
	if err != nil {
		return err
	}
	defer c.Close()
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
