package trading

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
)

// Portfolios caches portfolio and risk calculations with dependency-based
// invalidation through generation tokens.
//
// Each portfolio has a generation token, and so does each symbol a
// calculation declares it depends on. A calculation is stored with the
// tokens current when it was computed. InvalidatePortfolio (a position or
// trade changed) and InvalidateSymbol (a quote changed) replace a token in
// one write; every calculation stored under the old token is from then on
// read as missing — exactly the dependents, nothing else, and no scan or
// delete of the calculations themselves, which simply age out.
//
// Reads are snapshot-consistent: a read of several calculations fetches
// them with the portfolio's token in one MGET per namespace and checks
// every calculation against it, so a value computed before a change is
// never returned beside one computed after it without saying so
// (Snapshot.Stale).
type Portfolios struct {
	values, risk *tradecache.Namespace
}

// NewPortfolios returns the portfolio view of c: calculations in the
// portfolio namespace, risk results in the risk namespace, each with its
// TTL policy.
func NewPortfolios(c *tradecache.Cache) *Portfolios {
	return &Portfolios{values: c.Namespace(tradecache.NamespacePortfolio), risk: c.Namespace(tradecache.NamespaceRisk)}
}

// calcRecord is a stored calculation with the generation tokens it was
// computed under. A generation key stores a calcRecord of the same type,
// with only Gen set, so one MGET decodes both.
type calcRecord[T any] struct {
	Gen        string            `json:"gen"`
	SymbolGens map[string]string `json:"symbol_gens,omitempty"`
	Result     T                 `json:"result"`
	At         time.Time         `json:"at"`
}

func genKey(portfolio string) string        { return portfolio + ":gen" }
func symbolGenKey(symbol string) string     { return "sym:" + symbol + ":gen" }
func calcKey(portfolio, calc string) string { return portfolio + ":calc:" + calc }

// genTTL keeps generation tokens well beyond any calculation's TTL.
const genTTL = 7 * 24 * time.Hour

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// currentGen returns the portfolio's token, creating one if there is none.
func (p *Portfolios) currentGen(ctx context.Context, ns *tradecache.Namespace, key string) (string, error) {
	var r calcRecord[decimal.Decimal]
	found, err := ns.Get(ctx, key, &r)
	if err != nil {
		return "", err
	}
	if found && r.Gen != "" {
		return r.Gen, nil
	}
	tok := newToken()
	// Two writers may race to create it; the later one wins and the other's
	// calculations read as missing: safe, at the cost of one recompute.
	return tok, ns.Set(ctx, key, calcRecord[decimal.Decimal]{Gen: tok}, genTTL)
}

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
	gen, symGens := parseToken(token)
	rec := calcRecord[decimal.Decimal]{Gen: gen, Result: result, At: time.Now()}
	if len(o.symbols) > 0 || len(symGens) > 0 {
		rec.SymbolGens = symGens
		if rec.SymbolGens == nil {
			rec.SymbolGens = map[string]string{}
		}
		for _, s := range o.symbols {
			if _, ok := rec.SymbolGens[s]; ok {
				continue // captured when the computation started
			}
			// Declared only now: the best that can be done is the token as
			// it stands, which an invalidation during the computation has
			// already moved. Pass DependsOn to Generation instead.
			g, err := p.currentGen(ctx, p.values, symbolGenKey(s))
			if err != nil {
				return err
			}
			rec.SymbolGens[s] = g
		}
	}
	return ns.Set(ctx, calcKey(portfolio, calc), rec, 0)
}

// Generation returns the generation token to compute a calculation under:
// the portfolio's current one and, with DependsOn, the current ones of the
// symbols it depends on, all read before the computation starts. Store the
// result with this token (CachePortfolioCalculation, CacheRiskCalculation),
// so that a change in between, of a position or of a symbol's quote, makes
// the result read as missing rather than current:
//
//	tok, _ := p.Generation(ctx, "P-1", trading.DependsOn("AAPL", "MSFT"))
//	v := computeVaR(...)                       // reads positions and quotes
//	p.CacheRiskCalculation(ctx, "P-1", "VaR", v, tok)
//
// The token is opaque; a token without symbols is the portfolio's bare
// generation, as before.
func (p *Portfolios) Generation(ctx context.Context, portfolio string, opts ...CalcOption) (string, error) {
	gen, err := p.currentGen(ctx, p.values, genKey(portfolio))
	if err != nil {
		return "", err
	}
	var o calcOpts
	for _, opt := range opts {
		opt(&o)
	}
	var b strings.Builder
	b.WriteString(gen)
	for _, s := range o.symbols {
		g, err := p.currentGen(ctx, p.values, symbolGenKey(s))
		if err != nil {
			return "", err
		}
		// Keys and tokens hold no spaces, so a space separates them.
		b.WriteString(" " + s + " " + g)
	}
	return b.String(), nil
}

// parseToken splits a token from Generation into the portfolio's
// generation and the symbols' generations captured with it.
func parseToken(token string) (gen string, symGens map[string]string) {
	f := strings.Fields(token)
	if len(f) == 0 {
		return "", nil
	}
	for i := 1; i+1 < len(f); i += 2 {
		if symGens == nil {
			symGens = map[string]string{}
		}
		symGens[f[i]] = f[i+1]
	}
	return f[0], symGens
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
// change.
func (p *Portfolios) InvalidatePortfolio(ctx context.Context, portfolio string) error {
	return p.values.Set(ctx, genKey(portfolio), calcRecord[decimal.Decimal]{Gen: newToken()}, genTTL)
}

// InvalidateSymbol invalidates every calculation that declared it depends
// on symbol, in one write: call it when the symbol's quote changes.
func (p *Portfolios) InvalidateSymbol(ctx context.Context, symbol string) error {
	return p.values.Set(ctx, symbolGenKey(symbol), calcRecord[decimal.Decimal]{Gen: newToken()}, genTTL)
}

// Snapshot is a consistent read of one portfolio's calculations.
type Snapshot struct {
	Gen    string
	Values map[string]decimal.Decimal // current calculations, by name (risk metrics too)
	// Stale names the calculations found but computed before the latest
	// change (portfolio or symbol): they are not in Values.
	Stale []string
}

// ErrMixedSnapshot is returned when the portfolio changed between the
// reads of one snapshot, so no consistent set could be read.
var ErrMixedSnapshot = errors.New("trading: portfolio changed during the snapshot read")

// Read returns a snapshot of the named portfolio calculations and risk
// metrics: one MGET for the portfolio namespace (with its token) and one
// for the risk namespace, each result checked against the token.
func (p *Portfolios) Read(ctx context.Context, portfolio string, calcs, metrics []string) (Snapshot, error) {
	snap := Snapshot{Values: map[string]decimal.Decimal{}}
	keys := []string{genKey(portfolio)}
	for _, c := range calcs {
		keys = append(keys, calcKey(portfolio, c))
	}
	recs := map[string]calcRecord[decimal.Decimal]{}
	if _, err := p.values.GetMany(ctx, keys, &recs); err != nil {
		return snap, err
	}
	snap.Gen = recs[genKey(portfolio)].Gen
	riskRecs := map[string]calcRecord[decimal.Decimal]{}
	if len(metrics) > 0 {
		rk := []string{}
		for _, m := range metrics {
			rk = append(rk, calcKey(portfolio, m))
		}
		if _, err := p.risk.GetMany(ctx, rk, &riskRecs); err != nil {
			return snap, err
		}
		// The token again, after the risk read: had it moved, the two
		// reads could straddle a change.
		var r calcRecord[decimal.Decimal]
		if _, err := p.values.Get(ctx, genKey(portfolio), &r); err != nil {
			return snap, err
		}
		if r.Gen != snap.Gen {
			return snap, ErrMixedSnapshot
		}
	}
	var symbols []string
	for _, set := range []map[string]calcRecord[decimal.Decimal]{recs, riskRecs} {
		for _, rec := range set {
			for s := range rec.SymbolGens {
				symbols = append(symbols, s)
			}
		}
	}
	symGens := map[string]string{}
	if len(symbols) > 0 {
		sk := make([]string, len(symbols))
		for i, s := range symbols {
			sk[i] = symbolGenKey(s)
		}
		cur := map[string]calcRecord[decimal.Decimal]{}
		if _, err := p.values.GetMany(ctx, sk, &cur); err != nil {
			return snap, err
		}
		for i, s := range symbols {
			symGens[s] = cur[sk[i]].Gen
		}
	}
	check := func(name string, rec calcRecord[decimal.Decimal], ok bool) {
		if !ok {
			return
		}
		current := snap.Gen != "" && rec.Gen == snap.Gen
		for s, g := range rec.SymbolGens {
			if symGens[s] != g {
				current = false
			}
		}
		if current {
			snap.Values[name] = rec.Result
		} else {
			snap.Stale = append(snap.Stale, name)
		}
	}
	for _, c := range calcs {
		rec, ok := recs[calcKey(portfolio, c)]
		check(c, rec, ok)
	}
	for _, m := range metrics {
		rec, ok := riskRecs[calcKey(portfolio, m)]
		check(m, rec, ok)
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
