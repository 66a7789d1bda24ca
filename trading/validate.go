package trading

import "errors"

// The trading types validate what they decode (codec.Validator): a value
// read back from Redis that lacks what every real one has, written by
// another type or by a careless neighbour, is refused (codec.ErrInvalid)
// rather than served as found with zero fields, and get-or-load reloads
// it. Market data needs its symbol (its version is kept beside it, so a
// record's own Seq may be 0); a session its id and user.

var errNoSymbol = errors.New("trading: market data without a symbol")

func checkSymbol(symbol string) error {
	if symbol == "" {
		return errNoSymbol
	}
	return nil
}

// Validate implements codec.Validator.
func (q Quote) Validate() error { return checkSymbol(q.Symbol) }

// Validate implements codec.Validator.
func (t Trade) Validate() error { return checkSymbol(t.Symbol) }

// Validate implements codec.Validator.
func (b Bar) Validate() error { return checkSymbol(b.Symbol) }

// Validate implements codec.Validator.
func (b Book) Validate() error { return checkSymbol(b.Symbol) }

// Validate implements codec.Validator.
func (s Session) Validate() error {
	if s.ID == "" || s.User == "" {
		return errors.New("trading: a session needs an id and a user")
	}
	return nil
}
