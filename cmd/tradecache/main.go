// Command tradecache demonstrates and operates a tradecache deployment.
//
//	tradecache demo     cache a quote, a portfolio value, a risk metric and a
//	                    session, read them back, and print the hit rate
//	tradecache bench    [--phase 1s] [--repeat 3] [--json] [--html FILE]
//	                    latency and throughput against the replaced layer's
//	                    targets, beside a raw rueidis client
//	tradecache stats    [--json] [--keys] every live instance's figures,
//	                    merged, and Redis's
//	tradecache top      [--interval 1s] [--keys] [--once] the same, live
//	tradecache feed     tail [--json] SYMBOL... quotes as they are published
//	tradecache bars     tail [--interval 1s] [--json] SYMBOL... bars as they close
//	tradecache health   [--json] reachability, PING latency, breaker
//	tradecache clear    --namespace N [--yes] remove one namespace's keys
//
// Configuration comes from the environment (REDIS_URL, REDIS_HOST,
// REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS, and the CACHE_* variables;
// see docs/configuration.md). With none of them set, demo and bench run on
// the embedded in-memory store; stats, health and clear refuse to (exit 2)
// unless given --memory, since they would report on an empty store of
// their own.
//
// Exit codes: 0 success; 1 the command failed (for health: the store is
// not ready); 2 bad usage or configuration, or clear not confirmed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/tradecache/tradecache"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var ue usageError
	if errors.As(err, &ue) && ue.printed || errors.Is(err, errHelp) {
		os.Exit(exitCode(err)) // the flag package has said it
	}
	if err != nil {
		// The library's errors already begin with "tradecache: ".
		fmt.Fprintln(os.Stderr, "tradecache: "+strings.TrimPrefix(err.Error(), "tradecache: "))
		os.Exit(exitCode(err))
	}
}

// usageError marks errors in how the command was called (exit code 2).
// printed says the flag package already told the person, so main need not
// say it again.
type usageError struct {
	msg     string
	printed bool
}

func (e usageError) Error() string { return e.msg }

// errHelp is a subcommand's --help: its usage is printed, and it exits 0.
var errHelp = errors.New("help")

// flagError turns a flag.Parse error into the command's outcome: --help
// is a success, anything else a usage error the flag package has already
// printed with the command's flags.
// parseFlags parses args into fs, and refuses arguments after the flags
// (`demo x`), which would otherwise be ignored with exit 0.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return usageError{msg: fmt.Sprintf("%s takes no arguments, got %q", fs.Name(), fs.Args())}
	}
	return nil
}

// warnUnknownEnv says on stderr which REDIS_* and CACHE_* variables
// tradecache does not read (a typo's setting would otherwise be lost in
// silence), as docs/configuration.md promises of every command.
func warnUnknownEnv(stderr io.Writer) {
	for _, v := range tradecache.UnknownEnv() {
		fmt.Fprintf(stderr, "tradecache: warning: %s is not a variable tradecache reads\n", v)
	}
}

func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	return usageError{msg: err.Error(), printed: true}
}

func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

const usage = `usage: tradecache <command> [flags]

commands:
  demo    cache a quote, a portfolio value, a risk metric and a session,
          read them back, and print what happened and the hit rate;
          with --duration D [--symbols N], run a trading workload for D
  bench   [--phase 1s] [--repeat 3] [--json] [--html FILE] the replaced layer's
          targets, measured beside a raw rueidis client, the phases interleaved
          and repeated: each ratio is the median of the rounds', with its range
  stats   [--json] [--keys] [--memory] every live instance's published figures, merged:
          hit rate, latency percentiles, errors, per namespace and instance, hot keys;
          and Redis INFO
  top     [--interval 1s] [--keys] [--once] the same, live, redrawn in place
  feed    tail [--json] SYMBOL... each symbol's quote, then every update as it is published
  bars    tail [--interval 1s] [--json] SYMBOL... each symbol's bars as they close
  health  [--json] [--memory] reachability, PING latency and breaker; exit 1 if not ready
  clear   --namespace N [--yes] [--memory] remove a namespace's keys (SCAN + UNLINK)

Exit codes: 0 success, 1 failure (health: not ready), 2 usage or configuration.

Configuration comes from REDIS_URL, REDIS_HOST, REDIS_CLUSTER_ADDRS or
REDIS_SENTINEL_ADDRS (with REDIS_SENTINEL_MASTER) and the CACHE_* variables
(docs/configuration.md). Without any of them demo and bench use the embedded
in-memory store; stats, health and clear exit 2 unless given --memory.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usageError{msg: "no command given"}
	}
	switch args[0] {
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "stats":
		return runStats(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "top":
		return runTop(ctx, args[1:], stdout, stderr)
	case "feed":
		return runFeed(ctx, args[1:], stdout, stderr)
	case "bars":
		return runBars(ctx, args[1:], stdout, stderr)
	case "health":
		return runHealth(ctx, args[1:], stdout, stderr)
	case "clear":
		return runClear(ctx, args[1:], stdin, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return usageError{msg: fmt.Sprintf("unknown command %q", args[0])}
}
