package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/trading"
)

// The demo's values are the trading package's (trading.Quote,
// trading.Session) where it has one: prices are exact decimals and the
// exchange timestamp keeps its zone. The trading package keeps
// calculation results as decimals behind its generation tokens, so the
// walk-through's plain Set/Get of a valuation and a risk figure use the
// two small types below.

// Valuation is a portfolio calculation result.
type Valuation struct {
	Portfolio string          `json:"portfolio"`
	Value     decimal.Decimal `json:"value"`
	Currency  string          `json:"currency"`
	AsOf      time.Time       `json:"as_of"`
}

// Risk is a risk metric result.
type Risk struct {
	Metric     string          `json:"metric"`
	Value      decimal.Decimal `json:"value"`
	Confidence decimal.Decimal `json:"confidence"`
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 0, "run a trading workload for this long (0: the short walk-through)")
	symbols := fs.Int("symbols", 50, "symbols the workload's feed updates")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *duration < 0 || *symbols < 10 {
		return usageError{msg: "--duration must not be negative and --symbols must be at least 10"}
	}
	cfg, err := tradecache.ConfigFromEnv()
	if err != nil {
		return usageError{msg: err.Error()}
	}
	warnUnknownEnv(stderr)
	if *duration > 0 {
		off := false
		cfg.LogSlowOps = &off // the summary reports latency; do not log every slow call
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cache, err := tradecache.New(cctx, cfg)
	if err != nil {
		return err
	}
	defer cache.Close()
	if *duration > 0 {
		return runWorkload(ctx, cache, *duration, *symbols, stdout, stderr)
	}
	c := cache.Config()
	fmt.Fprintf(stdout, "tradecache demo: %s store, prefix %q, environment %s\n\n", cache.Backend(), c.KeyPrefix, c.Environment)

	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		ny = time.FixedZone("EST", -5*3600)
	}
	now := time.Now().In(ny)
	quote := trading.Quote{Symbol: "AAPL", Bid: decimal.RequireFromString("150.00"), Ask: decimal.RequireFromString("150.02"),
		BidSize: decimal.RequireFromString("300"), AskSize: decimal.RequireFromString("200"), Seq: 1, At: now}
	val := Valuation{Portfolio: "P-1001", Value: decimal.RequireFromString("1250000.50"), Currency: "USD", AsOf: now}
	risk := Risk{Metric: "VaR", Value: decimal.RequireFromString("-23456.78"), Confidence: decimal.RequireFromString("0.99")}
	sess := trading.Session{ID: "sess-3f9a", User: "trader-7", Data: map[string]string{"desk": "equities"}, CreatedAt: now}

	steps := []struct {
		ns, key string
		value   any
		dst     any
	}{
		{tradecache.NamespaceMarketData, "AAPL", quote, new(trading.Quote)},
		{tradecache.NamespacePortfolio, "P-1001:value", val, new(Valuation)},
		{tradecache.NamespaceRisk, "P-1001:VaR:0.99", risk, new(Risk)},
		{tradecache.NamespaceSession, sess.ID, sess, new(trading.Session)},
	}
	for _, s := range steps {
		ns := cache.Namespace(s.ns)
		t0 := time.Now()
		if err := ns.Set(ctx, s.key, s.value, 0); err != nil {
			return err
		}
		setDur := time.Since(t0)
		t0 = time.Now()
		found, err := ns.Get(ctx, s.key, s.dst)
		if err != nil {
			return err
		}
		if !found {
			return errors.New("demo: value missing right after Set: " + s.ns + "/" + s.key)
		}
		ttl, _, err := ns.TTL(ctx, s.key)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-12s %-18s set %-9s get %-9s ttl %-6s %s\n", s.ns, s.key,
			round(setDur), round(time.Since(t0)), ttl.Round(time.Second), describe(s.dst))
	}

	// Exactness checks the demo can show a person.
	got := steps[0].dst.(*trading.Quote)
	fmt.Fprintf(stdout, "\nbid written %s, read back %s (scale kept); quote time zone %s\n",
		quote.Bid.StringFixed(2), got.Bid.StringFixed(-got.Bid.Exponent()), got.At.Format("MST -07:00"))

	// A read of a key nobody wrote is a miss, not an error.
	var missing trading.Quote
	if found, err := cache.Namespace(tradecache.NamespaceMarketData).Get(ctx, "MSFT", &missing); err != nil {
		return err
	} else if found {
		return errors.New("demo: MSFT should be a miss")
	}
	fmt.Fprintln(stdout, "market_data  MSFT               miss (never written)")

	st := cache.Stats(ctx)
	fmt.Fprintf(stdout, "\nhits %d, misses %d, sets %d, errors %d, hit rate %.1f%%\n",
		st.Hits, st.Misses, st.Sets, st.Errors, 100*st.HitRate())
	return nil
}

func describe(v any) string {
	switch v := v.(type) {
	case *trading.Quote:
		return fmt.Sprintf("bid %s ask %s size %s/%s at %s", v.Bid.StringFixed(-v.Bid.Exponent()), v.Ask.StringFixed(-v.Ask.Exponent()), v.BidSize, v.AskSize, v.At.Format(time.RFC3339Nano))
	case *Valuation:
		return fmt.Sprintf("value %s %s", v.Value.StringFixed(-v.Value.Exponent()), v.Currency)
	case *Risk:
		return fmt.Sprintf("%s %s at %s", v.Metric, v.Value.StringFixed(-v.Value.Exponent()), v.Confidence)
	case *trading.Session:
		return fmt.Sprintf("user %s desk %s", v.User, v.Data["desk"])
	}
	return fmt.Sprint(v)
}
