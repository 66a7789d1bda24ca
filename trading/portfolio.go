package trading

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
)

// Portfolios caches portfolio and risk calculations with dependency-based
// invalidation on the cache's tags (tradecache.InvalidateTag).
//
// Each calculation carries the tag of its portfolio (PortfolioTag) and of
// every symbol it declares it depends on (SymbolTag), with their tokens as
// they stood before it was computed (Generation). InvalidatePortfolio (a
// position or trade changed) and InvalidateSymbol (a quote changed) give a
// tag a new token in one write; every calculation carrying the old one is
// from then on read as missing — exactly the dependents, nothing else, in
// any namespace and on every instance, and no scan or delete of the
// calculations themselves, which simply age out. It is the one mechanism
// every tagged value uses: a model's prediction tagged SymbolTag("AAPL")
// goes with the VaR that depends on AAPL.
//
// Reads are snapshot-consistent: a read of several calculations checks
// that the portfolio did not change between its reads, so a value
// computed before a change is never returned beside one computed after
// it (ErrMixedSnapshot).
type Portfolios struct {
	c            *tradecache.Cache
	values, risk *tradecache.Namespace
}

// NewPortfolios returns the portfolio view of c: calculations in the
// portfolio namespace, risk results in the risk namespace, each with its
// TTL policy.
func NewPortfolios(c *tradecache.Cache) *Portfolios {
	return &Portfolios{c: c, values: c.Namespace(tradecache.NamespacePortfolio), risk: c.Namespace(tradecache.NamespaceRisk)}
}

// PortfolioTag is the tag every calculation of portfolio carries.
func PortfolioTag(portfolio string) string { return "portfolio:" + portfolio }

// SymbolTag is the tag of a value that depends on symbol's quote:
// InvalidateSymbol invalidates it, and any value tagged with it.
func SymbolTag(symbol string) string { return "symbol:" + symbol }

// calcRecord is a stored calculation and when it was stored.
type calcRecord[T any] struct {
	Result T         `json:"result"`
	At     time.Time `json:"at"`
}

func calcKey(portfolio, calc string) string { return portfolio + ":calc:" + calc }

// CalcOption adjusts a cached calculation.
type CalcOption func(*calcOpts)

type calcOpts struct{ symbols []string }

// DependsOn declares that the calculation depends on these symbols' quotes,
// so that InvalidateSymbol on any of them invalidates it. Give it to
// Generation, before computing: the symbols' tokens are then the ones the
// computation read under. Given only when storing, the tokens are read at
// store time, and an invalidation during the computation is lost.
func DependsOn(symbols ...string) CalcOption {
	return func(o *calcOpts) { o.symbols = append(o.symbols, symbols...) }
}

func (p *Portfolios) store(ctx context.Context, ns *tradecache.Namespace, portfolio, calc string, result decimal.Decimal, token string, opts []CalcOption) error {
	var o calcOpts
	for _, opt := range opts {
		opt(&o)
	}
	tt, err := tradecache.ParseTagTokens(token)
	if err != nil {
		return fmt.Errorf("trading: %w (get the token from Portfolios.Generation)", err)
	}
	if tt.Token(PortfolioTag(portfolio)) == "" {
		return fmt.Errorf("trading: token %q is not a generation of portfolio %q: get it from Portfolios.Generation", token, portfolio)
	}
	set := []tradecache.SetOption{tradecache.TaggedAsOf(tt)}
	for _, s := range o.symbols {
		if tt.Token(SymbolTag(s)) == "" {
			// Declared only now: the best that can be done is the token as
			// it stands, which an invalidation during the computation has
			// already moved. Pass DependsOn to Generation instead.
			set = append(set, tradecache.Tagged(SymbolTag(s)))
		}
	}
	return ns.Set(ctx, calcKey(portfolio, calc), calcRecord[decimal.Decimal]{Result: result, At: time.Now()}, 0, set...)
}

// Generation returns the generation token to compute a calculation under:
// the tokens of the portfolio's tag and, with DependsOn, of the symbols'
// tags, all read before the computation starts. Store the result with
// this token (CachePortfolioCalculation, CacheRiskCalculation), so that a
// change in between, of a position or of a symbol's quote, makes the
// result read as missing rather than current:
//
//	tok, _ := p.Generation(ctx, "P-1", trading.DependsOn("AAPL", "MSFT"))
//	v := computeVaR(...)                       // reads positions and quotes
//	p.CacheRiskCalculation(ctx, "P-1", "VaR", v, tok)
//
// The token is tradecache.TagTokens as text: the Python package's
// generation() makes the same, and either language stores under the
// other's.
func (p *Portfolios) Generation(ctx context.Context, portfolio string, opts ...CalcOption) (string, error) {
	var o calcOpts
	for _, opt := range opts {
		opt(&o)
	}
	tags := []string{PortfolioTag(portfolio)}
	for _, s := range o.symbols {
		tags = append(tags, SymbolTag(s))
	}
	tt, err := p.c.TagTokens(ctx, tags...)
	if err != nil {
		return "", err
	}
	return tt.String(), nil
}

// CachePortfolioCalculation stores a portfolio calculation (value, P&L)
// computed under the token gen (from Generation).
func (p *Portfolios) CachePortfolioCalculation(ctx context.Context, portfolio, calc string, result decimal.Decimal, gen string, opts ...CalcOption) error {
	return p.store(ctx, p.values, portfolio, calc, result, gen, opts)
}

// CacheRiskCalculation stores a risk result (VaR, exposure) computed under
// generation gen, in the risk namespace.
func (p *Portfolios) CacheRiskCalculation(ctx context.Context, portfolio, metric string, result decimal.Decimal, gen string, opts ...CalcOption) error {
	return p.store(ctx, p.risk, portfolio, metric, result, gen, opts)
}

// InvalidatePortfolio invalidates every calculation of the portfolio,
// value, P&L and risk alike, in one write: call it on a position or trade
// change. Durable: while Redis cannot be reached it is queued (see
// tradecache.Cache.InvalidateTag).
func (p *Portfolios) InvalidatePortfolio(ctx context.Context, portfolio string) error {
	return p.c.InvalidateTag(ctx, PortfolioTag(portfolio))
}

// InvalidateSymbol invalidates every calculation that declared it depends
// on symbol, and every other value tagged SymbolTag(symbol), in one
// write: call it when the symbol's quote changes.
func (p *Portfolios) InvalidateSymbol(ctx context.Context, symbol string) error {
	return p.c.InvalidateTag(ctx, SymbolTag(symbol))
}

// Snapshot is a consistent read of one portfolio's calculations.
type Snapshot struct {
	// Gen is the token of the portfolio's tag the snapshot was read under.
	Gen    string
	Values map[string]decimal.Decimal // current calculations, by name (risk metrics too)
	// Stale names the calculations asked for that are not current: never
	// computed, expired, or computed before the latest change of the
	// portfolio or of a symbol they depend on. They are not in Values.
	Stale []string
}

// ErrMixedSnapshot is returned when the portfolio changed between the
// reads of one snapshot, so no consistent set could be read.
var ErrMixedSnapshot = errors.New("trading: portfolio changed during the snapshot read")

// Read returns a snapshot of the named portfolio calculations and risk
// metrics: one MGET for the portfolio namespace and one for the risk
// namespace, each value held to its tags' current tokens, with the
// portfolio's token read before and after, so that the two reads cannot
// straddle a change.
func (p *Portfolios) Read(ctx context.Context, portfolio string, calcs, metrics []string) (Snapshot, error) {
	snap := Snapshot{Values: map[string]decimal.Decimal{}}
	tag := PortfolioTag(portfolio)
	before, err := p.c.TagTokens(ctx, tag)
	if err != nil {
		return snap, err
	}
	snap.Gen = before.Token(tag)
	read := func(ns *tradecache.Namespace, names []string) error {
		if len(names) == 0 {
			return nil
		}
		keys := make([]string, len(names))
		for i, n := range names {
			keys[i] = calcKey(portfolio, n)
		}
		recs := map[string]calcRecord[decimal.Decimal]{}
		if _, err := ns.GetMany(ctx, keys, &recs); err != nil {
			return err
		}
		for i, n := range names {
			if rec, ok := recs[keys[i]]; ok {
				snap.Values[n] = rec.Result
			} else {
				snap.Stale = append(snap.Stale, n)
			}
		}
		return nil
	}
	if err := read(p.values, calcs); err != nil {
		return snap, err
	}
	if err := read(p.risk, metrics); err != nil {
		return snap, err
	}
	if len(calcs) > 0 && len(metrics) > 0 {
		// The token again, after both reads: had it moved, the two reads
		// could straddle a change.
		after, err := p.c.TagTokens(ctx, tag)
		if err != nil {
			return snap, err
		}
		if after.Token(tag) != snap.Gen {
			return snap, ErrMixedSnapshot
		}
	}
	sort.Strings(snap.Stale)
	return snap, nil
}

// PortfolioCalculation returns one current calculation, or found false if
// it is missing or was invalidated.
func (p *Portfolios) PortfolioCalculation(ctx context.Context, portfolio, calc string) (decimal.Decimal, bool, error) {
	s, err := p.Read(ctx, portfolio, []string{calc}, nil)
	v, ok := s.Values[calc]
	return v, ok, err
}

// RiskCalculation returns one current risk metric, or found false if it is
// missing or was invalidated.
func (p *Portfolios) RiskCalculation(ctx context.Context, portfolio, metric string) (decimal.Decimal, bool, error) {
	s, err := p.Read(ctx, portfolio, nil, []string{metric})
	v, ok := s.Values[metric]
	return v, ok, err
}
