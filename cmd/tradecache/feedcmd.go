package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/trading/feed"
)

// runFeed is `tradecache feed tail SYMBOL...`: the symbols' quotes as
// they are published, after each one's current quote, until Ctrl-C.
func runFeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if err := tailSubcommand("feed", feedUsage, args, stdout, stderr); err != nil {
		return err
	}
	fs := flag.NewFlagSet("feed tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per update")
	if err := fs.Parse(args[1:]); err != nil {
		return flagError(err)
	}
	if fs.NArg() == 0 {
		return usageError{msg: "feed tail needs at least one symbol"}
	}
	c, err := openStreams(ctx, "feed tail", "feed", stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	enc := json.NewEncoder(stdout)
	for u, err := range feed.New(c, feed.Options{}).Subscribe(ctx, fs.Args()) {
		if ctx.Err() != nil {
			return nil // Ctrl-C: the end of a tail, not a failure
		}
		if err != nil {
			fmt.Fprintf(stderr, "tradecache: feed: %v (retrying)\n", err)
			continue
		}
		q := u.Quote
		if *asJSON {
			if err := enc.Encode(map[string]any{"symbol": u.Symbol, "seq": q.Seq, "bid": codec.DecimalString(q.Bid),
				"ask": codec.DecimalString(q.Ask), "at": q.At.Format(time.RFC3339Nano), "id": u.ID, "snapshot": u.Snapshot,
				"resync": u.Resync, "lag_ns": u.Lag.Nanoseconds()}); err != nil {
				return err
			}
			continue
		}
		kind := fmt.Sprintf("lag %v", round(u.Lag))
		switch {
		case u.Resync:
			kind = "resync (fell behind the retained stream)"
		case u.Snapshot:
			kind = "current"
		}
		fmt.Fprintf(stdout, "%s  %-8s seq %-8d bid %-10s ask %-10s %s\n", q.At.Format("15:04:05.000"), u.Symbol, q.Seq,
			codec.DecimalString(q.Bid), codec.DecimalString(q.Ask), kind)
	}
	return nil
}

const feedUsage = `usage: tradecache feed tail [--json] SYMBOL...

Prints each symbol's current quote, then every quote published to it (by
trading/feed's Publish), as it arrives, until Ctrl-C. Needs Redis.`

// tailSubcommand checks that args name the tail subcommand of command,
// whose usage is usage: --help prints it (and exits 0), anything else is a
// usage error.
func tailSubcommand(command, usage string, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "tail" {
		return nil
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprintln(stdout, usage)
		return errHelp
	}
	fmt.Fprintln(stderr, usage)
	return usageError{msg: command + " needs a subcommand: tail"}
}

// openStreams opens the cache a tail reads (cmd, what it reads: another
// process's), which must be Redis and keep streams: a tail has no
// --memory, since this process's own store would hold nothing of
// another's.
func openStreams(ctx context.Context, cmd, what string, stderr io.Writer) (*tradecache.Cache, error) {
	c, err := openCache(ctx, false, false, stderr)
	if errors.Is(err, errNoRedis) {
		return nil, usageError{msg: "no Redis address: set REDIS_URL or REDIS_HOST (or REDIS_CLUSTER_ADDRS, or REDIS_SENTINEL_ADDRS with REDIS_SENTINEL_MASTER); " +
			cmd + " reads another process's " + what + ", which only Redis holds"}
	}
	if err != nil {
		return nil, err
	}
	if !c.HasStreams() {
		c.Close()
		return nil, usageError{msg: cmd + ": the store in use keeps no streams"}
	}
	return c, nil
}
