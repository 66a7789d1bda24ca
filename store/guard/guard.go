// Package guard bounds every call to a store.Store and puts a circuit
// breaker (github.com/sony/gobreaker/v2) in front of it.
//
// A trading service must keep running when its cache fails, and the two
// ways a cache hurts it are waiting and piling on. Every call through a
// guard therefore has a deadline, even when the caller's context has none,
// so a black-holed Redis costs a caller at most the operation's timeout.
// After repeated failures the breaker opens and calls fail at once with
// store.ErrUnavailable, with no dial and no wait, so a dead Redis costs
// microseconds and sees no connection storm. After OpenTimeout the breaker
// lets one probe through and closes by itself when Redis answers again:
// recovery needs no restart.
//
// A store that fails in parts, such as a Redis Cluster whose shards live
// and die separately, implements store.Partitioner, and the guard then
// keeps one breaker per partition for single-key calls and for the keys of
// GetMany and SetMany (a batch sends only the keys whose partition admits
// them and returns a *store.PartialError for the rest), beside one for the
// calls that span partitions as a whole (Delete of many keys, DeletePrefix,
// Ping, Info). A dead shard's keys then fail fast while the healthy
// shards' keys are still served; with one breaker for everything, the dead
// shard's failures would open it and fail every call.
//
// What counts as a failure: the store being unreachable, refusing the
// credentials (after a password rotation every reconnect fails: open, and
// redial at the probe rate), or a deadline the guard set expiring while
// this process was not starved of CPU. A miss is not a failure, nor is
// another Redis error reply (OOM, NOPERM, WRONGTYPE: the server is up and
// answering), nor a call the caller itself cancelled or gave too short a
// deadline.
package guard

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/tradecache/tradecache/internal/mono"
	"github.com/tradecache/tradecache/internal/starve"
	"github.com/tradecache/tradecache/store"
)

// Defaults used for zero Options fields. The timeouts suit a data-center
// network, where a Redis round trip takes tens of microseconds and p99
// stays under a millisecond.
const (
	DefaultOpTimeout           = 100 * time.Millisecond
	DefaultBatchTimeout        = time.Second
	DefaultScanTimeout         = time.Minute
	DefaultConsecutiveFailures = 5
	DefaultFailureRatio        = 0.5
	DefaultMinRequests         = 20
	DefaultInterval            = 10 * time.Second
	DefaultOpenTimeout         = time.Second
)

// Options configures a guard. The zero value means the defaults above.
type Options struct {
	// OpTimeout bounds single-key calls (Get, Set, Exists, TTL, Expire,
	// SetNX, DeleteIfEqual, Ping).
	OpTimeout time.Duration
	// BatchTimeout bounds GetMany, SetMany and Delete.
	BatchTimeout time.Duration
	// ScanTimeout bounds DeletePrefix, which walks a whole namespace.
	ScanTimeout time.Duration
	// ConsecutiveFailures trips the breaker after this many failures in a
	// row.
	ConsecutiveFailures uint32
	// FailureRatio trips the breaker when at least this fraction of the
	// calls in the current Interval failed, once MinRequests were made.
	FailureRatio float64
	MinRequests  uint32
	// Interval is how often a closed breaker forgets its counts.
	Interval time.Duration
	// OpenTimeout is how long the breaker stays open before it lets a
	// probe through.
	OpenTimeout time.Duration
	// DisableBreaker keeps the deadlines but never opens.
	DisableBreaker bool
	// OnStateChange is called after each transition of the breaker for
	// calls that span partitions (the only breaker of an unpartitioned
	// store), after the guard has logged and counted it. Partition
	// breakers' transitions are counted in Transitions and logged at
	// debug level; the first to open and the last to close are logged at
	// warn and info.
	OnStateChange func(from, to State)
	// Logger receives breaker transitions. Nil means slog.Default().
	Logger *slog.Logger
}

// State is a breaker state.
type State = gobreaker.State

// Breaker states.
const (
	StateClosed   = gobreaker.StateClosed
	StateHalfOpen = gobreaker.StateHalfOpen
	StateOpen     = gobreaker.StateOpen
)

// ErrOpen is returned, wrapped with store.ErrUnavailable, while the
// breaker is open.
var ErrOpen = errors.New("circuit breaker open")

var (
	errOpen     = fmt.Errorf("%w: %w", store.ErrUnavailable, ErrOpen)
	errFailure  = errors.New("failure")
	errExcluded = errors.New("excluded")
)

// sharedDeadline hands calls whose context can never be cancelled (such as
// context.Background()) one shared deadline context per short epoch,
// instead of a context.WithTimeout each: a timer, a context and a channel
// per call were a fifth of the CPU of a cached GET at 50 goroutines. A call
// admitted in an epoch gets a bound between d and d plus the epoch (a
// tenth of d). Callers whose context can be cancelled keep their own,
// bounded by context.WithTimeout.
//
// A call finds its epoch by a reading of the monotonic clock alone
// (mono.Now): the one the I/O path took when the call started (GetAt), or
// its own. An epoch marked over by a timer instead read no clock at all,
// but a timer that fires late on a starved process leaves the calls of
// that spell less than d; a burner run of make test then saw 68 timeouts
// in TestFailoverSentinelMasterKill. Whatever their cause, the bound is
// the promise, and the clock read keeps it.
type sharedDeadline struct {
	d, epoch time.Duration
	cur      atomic.Pointer[deadlineEpoch]
}

type deadlineEpoch struct {
	ctx    context.Context
	cancel context.CancelFunc // never called: the deadline ends it
	until  time.Duration      // a mono reading
}

func newShared(d time.Duration) *sharedDeadline {
	return &sharedDeadline{d: d, epoch: max(d/10, time.Millisecond)}
}

// get returns the epoch's context for a call admitted at now (a mono
// reading).
func (s *sharedDeadline) get(now time.Duration) context.Context {
	if e := s.cur.Load(); e != nil && now < e.until {
		return e.ctx
	}
	ctx, cancel := context.WithDeadline(context.Background(), mono.Time(now+s.d+s.epoch))
	e := &deadlineEpoch{ctx: ctx, cancel: cancel, until: now + s.epoch}
	s.cur.Store(e)
	return e.ctx
}

// Store is a guarded store.Store.
type Store struct {
	next                  store.Store
	sharedOp, sharedBatch *sharedDeadline
	cb                    *breaker // calls spanning partitions
	// parts are the partition breakers, and part maps a key to one; both
	// are nil for an unpartitioned store.
	parts                    []*breaker
	part                     func(key string) int
	partsOpen                atomic.Int32 // partition breakers not closed
	op, batch, scan          time.Duration
	disabled                 bool
	log                      *slog.Logger
	hook                     func(from, to State)
	opened, halfOpen, closed atomic.Uint64
	rejected                 atomic.Uint64
	starve                   *starve.Detector
	late                     time.Duration // a timeout handled this late was the process's, not the store's
	starvedTimeouts          atomic.Uint64
}

var _ store.Store = (*Store)(nil)

// New wraps next. It rejects negative durations and a ratio outside [0, 1].
func New(next store.Store, o Options) (*Store, error) {
	if o.OpTimeout < 0 || o.BatchTimeout < 0 || o.ScanTimeout < 0 || o.Interval < 0 || o.OpenTimeout < 0 {
		return nil, errors.New("guard: timeouts must not be negative")
	}
	if o.FailureRatio < 0 || o.FailureRatio > 1 {
		return nil, fmt.Errorf("guard: FailureRatio %v outside [0, 1]", o.FailureRatio)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.OpTimeout, DefaultOpTimeout)
	def(&o.BatchTimeout, DefaultBatchTimeout)
	def(&o.ScanTimeout, DefaultScanTimeout)
	def(&o.Interval, DefaultInterval)
	def(&o.OpenTimeout, DefaultOpenTimeout)
	if o.ConsecutiveFailures == 0 {
		o.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if o.FailureRatio == 0 {
		o.FailureRatio = DefaultFailureRatio
	}
	if o.MinRequests == 0 {
		o.MinRequests = DefaultMinRequests
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Store{next: next, op: o.OpTimeout, batch: o.BatchTimeout, scan: o.ScanTimeout,
		disabled: o.DisableBreaker, log: o.Logger, hook: o.OnStateChange,
		sharedOp: newShared(o.OpTimeout), sharedBatch: newShared(o.BatchTimeout),
		starve: starve.New(max(time.Millisecond, o.OpTimeout/4)), late: max(time.Millisecond, o.OpTimeout/4)}
	settings := func(name string, b *breaker, onChange func(string, State, State)) gobreaker.Settings {
		return gobreaker.Settings{
			Name:        name,
			MaxRequests: 1,
			Interval:    o.Interval,
			Timeout:     o.OpenTimeout,
			ReadyToTrip: func(c gobreaker.Counts) bool {
				if b.probation.Load() {
					return c.ConsecutiveFailures >= 1 // half-open after a probe: one failure opens it again
				}
				// The window, not gobreaker's counts: calls on the fast
				// path (see breaker) reach gobreaker only when they fail.
				return b.win.trips(&o)
			},
			IsSuccessful: func(err error) bool {
				if err == nil {
					b.succeeded()
				} else if errors.Is(err, errFailure) {
					b.win.failed()
				}
				if err == nil && b.probation.Load() && b.probation.CompareAndSwap(true, false) {
					b.fast.Store(true)
					s.closed.Add(1)
					s.log.Info("tradecache: circuit breaker closed: store recovered", "breaker", name, "from", StateHalfOpen.String())
					if b == s.cb && s.hook != nil {
						s.hook(StateHalfOpen, StateClosed)
					}
				}
				return !errors.Is(err, errFailure)
			},
			IsExcluded:    func(err error) bool { return errors.Is(err, errExcluded) },
			OnStateChange: onChange,
		}
	}
	newBreaker := func(name string, onChange func(string, State, State)) *breaker {
		b := &breaker{name: name}
		b.win.interval = int64(o.Interval)
		change := func(name string, from, to State) {
			b.win.reset()
			b.fast.Store(to == StateClosed && !b.probation.Load())
			onChange(name, from, to)
		}
		b.make = func() *gobreaker.TwoStepCircuitBreaker[struct{}] {
			return gobreaker.NewTwoStepCircuitBreaker[struct{}](settings(name, b, change))
		}
		b.cur.Store(b.make())
		b.fast.Store(true)
		return b
	}
	s.cb = newBreaker("redis", s.onStateChange)
	if p, ok := next.(store.Partitioner); ok {
		if n, name, part := p.Partitions(); n > 1 {
			s.part = part
			s.parts = make([]*breaker, n)
			for i := range s.parts {
				s.parts[i] = newBreaker(name(i), s.onPartChange)
			}
		}
	}
	return s, nil
}

// breaker is one gobreaker breaker that a successful health probe can
// replace, and the failure that may explain why it is open.
//
// gobreaker moves from open to half-open only when its OpenTimeout has
// passed. A health probe that reaches the store proves it answers again
// before then: ProbeSucceeded puts a fresh breaker in its place on
// probation, which is half-open in all but name (calls go through, the
// first success ends probation, the first failure opens it again), so
// that calls recover at the speed of the store, not of the timeout.
type breaker struct {
	name      string
	cur       atomic.Pointer[gobreaker.TwoStepCircuitBreaker[struct{}]]
	make      func() *gobreaker.TwoStepCircuitBreaker[struct{}]
	probation atomic.Bool
	// cause is the last failure when it is one that waiting will not mend
	// (refused credentials or permissions, a TLS failure): an open
	// breaker's error wraps it, so that errors.Is(err, ErrAuth) holds
	// while calls fail fast, not only for the few that opened it.
	cause atomic.Pointer[error]
	// last is the last failure of any kind, for the log line that says
	// the breaker opened: an operator reads there what opened it.
	last atomic.Pointer[error]
	// fast is set while gobreaker is closed and not on probation: a call
	// is then admitted without gobreaker, and its success is counted in
	// win; only a failure goes through gobreaker, whose ReadyToTrip reads
	// win. Open, half-open and probation go through gobreaker as before.
	fast atomic.Bool
	win  window
}

func (b *breaker) Allow() (func(error), error) { return b.cur.Load().Allow() }

// State is the breaker's state, half-open while on probation.
func (b *breaker) State() State {
	st := b.cur.Load().State()
	if st == StateClosed && b.probation.Load() {
		return StateHalfOpen
	}
	return st
}

// failed records err, a failure, as the breaker's cause when it is one
// waiting will not mend. Another kind of failure leaves the cause as it
// is: on a busy machine a refused password and timeouts come mixed, and
// the refusal is what the caller must hear of. A success clears it
// (succeeded, ProbeSucceeded).
func (b *breaker) failed(err error) {
	b.last.Store(&err)
	if lasting(err) {
		b.cause.Store(&err)
	}
}

// succeeded clears the cause: the store answered.
func (b *breaker) succeeded() {
	if b.cause.Load() != nil {
		b.cause.Store(nil)
	}
}

// openErr is the error of a call refused while the breaker is open.
func (b *breaker) openErr() error {
	if c := b.cause.Load(); c != nil {
		return fmt.Errorf("%w: %w", errOpen, *c)
	}
	return errOpen
}

// lasting reports a failure that repeats until the configuration changes:
// credentials or permissions refused, a request the server refuses, or a
// TLS failure.
func lasting(err error) bool {
	if errors.Is(err, store.ErrAuth) || errors.Is(err, store.ErrNoPermission) || errors.Is(err, store.ErrRefused) {
		return true
	}
	var alert tls.AlertError
	var rec tls.RecordHeaderError
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var inval x509.CertificateInvalidError
	return errors.As(err, &alert) || errors.As(err, &rec) || errors.As(err, &verify) || errors.As(err, &unknown) ||
		errors.As(err, &host) || errors.As(err, &inval)
}

// ProbeFailed tells the guard that a health probe failed with err: when it
// is a failure waiting will not mend (a refused password), every breaker
// takes it as its cause, so that calls refused while open say so even when
// the breaker opened on something else first (a killed connection).
func (s *Store) ProbeFailed(err error) {
	if !lasting(err) {
		return
	}
	s.cb.failed(err)
	for _, p := range s.parts {
		p.failed(err)
	}
}

// ProbeSucceeded tells the guard that a health probe reached the store:
// every open breaker goes half-open at once (see breaker).
func (s *Store) ProbeSucceeded() {
	if s.disabled {
		return
	}
	reset := func(b *breaker, part bool) {
		if b.cause.Load() != nil {
			b.cause.Store(nil)
		}
		if b.cur.Load().State() != StateOpen {
			return
		}
		b.fast.Store(false) // before probation starts: no call may slip onto the fast path
		b.probation.Store(true)
		b.win.reset()
		b.cur.Store(b.make())
		s.halfOpen.Add(1)
		if part {
			// The fresh breaker is closed to gobreaker: count the part as
			// closed, so that it opening again counts it anew.
			if s.partsOpen.Add(-1) == 0 {
				s.log.Info("tradecache: circuit breakers half-open: a health probe reached every part of the store")
			}
			return
		}
		s.log.Info("tradecache: circuit breaker half-open: a health probe reached the store")
		if s.hook != nil {
			s.hook(StateOpen, StateHalfOpen)
		}
	}
	reset(s.cb, false)
	for _, p := range s.parts {
		reset(p, true)
	}
}

// onPartChange counts a partition breaker's transition and logs the first
// partition to leave closed and the last to return, so that a dead shard
// of many partitions logs two lines, not one per partition per probe.
func (s *Store) onPartChange(name string, from, to State) {
	switch to {
	case StateOpen:
		s.opened.Add(1)
	case StateHalfOpen:
		s.halfOpen.Add(1)
	case StateClosed:
		s.closed.Add(1)
	}
	s.log.Debug("tradecache: circuit breaker transition", "breaker", name, "from", from.String(), "to", to.String())
	switch {
	case from == StateClosed:
		if s.partsOpen.Add(1) == 1 {
			s.log.Warn("tradecache: circuit breaker opened for part of the store: its calls fail fast", "breaker", name)
		}
	case to == StateClosed:
		if s.partsOpen.Add(-1) == 0 {
			s.log.Info("tradecache: circuit breakers closed: every part of the store recovered", "last", name)
		}
	}
}

func (s *Store) onStateChange(_ string, from, to State) {
	switch to {
	case StateOpen:
		s.opened.Add(1)
		var last error
		if e := s.cb.last.Load(); e != nil {
			last = *e
		}
		s.log.Warn("tradecache: circuit breaker opened: store calls fail fast", "from", from.String(), "last_failure", last)
	case StateHalfOpen:
		s.halfOpen.Add(1)
		s.log.Info("tradecache: circuit breaker half-open: probing the store")
	case StateClosed:
		s.closed.Add(1)
		s.log.Info("tradecache: circuit breaker closed: store recovered", "from", from.String())
	}
	if s.hook != nil {
		s.hook(from, to)
	}
}

// BreakerState returns the breaker's state; with partitions, the most open
// of them all (open, then half-open, then closed), so that readiness
// reports a dead shard.
func (s *Store) BreakerState() State {
	st := s.cb.State()
	for _, p := range s.parts {
		if ps := p.State(); ps == StateOpen || ps == StateHalfOpen && st == StateClosed {
			st = ps
		}
	}
	return st
}

// OpenPartitions returns how many partition breakers are not closed, and
// how many there are (0 for an unpartitioned store).
func (s *Store) OpenPartitions() (open, total int) {
	for _, p := range s.parts {
		if p.State() != StateClosed {
			open++
		}
	}
	return open, len(s.parts)
}

// Transitions counts breaker transitions since New, by target state.
type Transitions struct {
	Opened     uint64 `json:"opened"`
	HalfOpened uint64 `json:"half_opened"`
	Closed     uint64 `json:"closed"`
	// Rejected counts calls failed fast while the breaker was open.
	Rejected uint64 `json:"rejected"`
	// Starved counts timeouts not held against the breaker because this
	// process was starved of CPU when they happened (see Starved).
	Starved uint64 `json:"starved"`
}

// Transitions returns the breaker's transition counts.
func (s *Store) Transitions() Transitions {
	return Transitions{s.opened.Load(), s.halfOpen.Load(), s.closed.Load(), s.rejected.Load(), s.starvedTimeouts.Load()}
}

// Starved reports whether this process is starved of CPU now: its
// goroutines wait longer to run than a quarter of the operation timeout.
// A timeout then says nothing about the store.
func (s *Store) Starved() bool { return s.starve.Starved() }

// Describe implements store.Describer: the guarded store's description,
// or its Go type as the backend when it has none.
func (s *Store) Describe() store.Description {
	if d, ok := s.next.(store.Describer); ok {
		return d.Describe()
	}
	return store.Description{Backend: fmt.Sprintf("%T", s.next)}
}

// Unwrap returns the guarded store, for health checks that must reach it
// even while the breaker is open.
func (s *Store) Unwrap() store.Store { return s.next }

// call is one guarded call: breaker admission, a deadline, the outcome.
type call struct {
	s        *Store
	b        *breaker
	blocking bool // a blocking stream read: its deadline passing is not a failure
	done     func(error)
	fast     bool // admitted on the breaker's fast path: no done
	parent   context.Context
	cancel   context.CancelFunc
	deadline time.Time // of the bounded context
}

// begin admits a call that spans partitions and bounds its context by d.
func (s *Store) begin(ctx context.Context, d time.Duration) (context.Context, call, error) {
	return s.beginOn(ctx, d, s.cb, 0)
}

// beginKey admits a call on key, through key's partition breaker.
func (s *Store) beginKey(ctx context.Context, d time.Duration, key string) (context.Context, call, error) {
	return s.beginKeyAt(ctx, d, key, 0)
}

// beginKeyAt is beginKey of a call that started at now (a mono reading;
// 0: unknown, read when needed).
func (s *Store) beginKeyAt(ctx context.Context, d time.Duration, key string, now time.Duration) (context.Context, call, error) {
	if s.part == nil {
		return s.beginOn(ctx, d, s.cb, now)
	}
	return s.beginOn(ctx, d, s.parts[s.part(key)], now)
}

// beginKeys admits a batch: a one-key batch through its key's partition
// breaker, any other through the spanning breaker. (Checking that many keys
// share a partition would hash every key of every batch, for the rare
// batch under one hash tag.)
func (s *Store) beginKeys(ctx context.Context, d time.Duration, n int, key func(int) string) (context.Context, call, error) {
	return s.beginKeysAt(ctx, d, n, key, 0)
}

// beginKeysAt is beginKeys of a call that started at now (a mono reading;
// 0: unknown, read when needed).
func (s *Store) beginKeysAt(ctx context.Context, d time.Duration, n int, key func(int) string, now time.Duration) (context.Context, call, error) {
	if s.part == nil || n != 1 {
		return s.beginOn(ctx, d, s.cb, now)
	}
	return s.beginOn(ctx, d, s.parts[s.part(key(0))], now)
}

func (s *Store) beginOn(ctx context.Context, d time.Duration, cb *breaker, now time.Duration) (context.Context, call, error) {
	c := call{s: s, parent: ctx, b: cb}
	switch {
	case s.disabled:
	case cb.fast.Load():
		c.fast = true
	default:
		done, err := cb.Allow()
		if err != nil {
			s.rejected.Add(1)
			return ctx, c, cb.openErr()
		}
		c.done = done
	}
	ctx, c.cancel = s.bound(ctx, d, now)
	c.deadline, _ = ctx.Deadline()
	return ctx, c, nil
}

func noCancel() {}

// bound returns ctx bounded by d: ctx itself when its own deadline is
// sooner, a shared epoch deadline when it can never be cancelled, or a
// context.WithTimeout. now is when the call started (a mono reading), or 0
// to read the clock when the epoch needs it.
func (s *Store) bound(ctx context.Context, d, now time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, noCancel // the caller's deadline is the tighter bound
	}
	if ctx.Done() == nil {
		var shared *sharedDeadline
		switch d {
		case s.op:
			shared = s.sharedOp
		case s.batch:
			shared = s.sharedBatch
		}
		if shared != nil {
			if now == 0 {
				now = mono.Now()
			}
			return shared.get(now), noCancel
		}
	}
	return context.WithTimeout(ctx, d)
}

// end reports the outcome to the breaker and returns err.
func (c call) end(err error) error {
	if c.cancel != nil {
		c.cancel()
	}
	if c.done != nil || c.fast {
		o := error(nil)
		if err != nil {
			o = c.s.outcome(c.parent, err, c.deadline)
		}
		if c.blocking && o == errFailure && (errors.Is(err, store.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)) {
			o = errExcluded
		}
		if o == errFailure {
			c.b.failed(err)
		}
		switch {
		case c.done != nil:
			c.done(o)
		case o == nil:
			c.b.succeeded()
			c.b.win.succeeded()
		case o == errFailure:
			// Through gobreaker, which counts it in the window and trips
			// on the window's counts. (A breaker that opened meanwhile
			// refuses it: it is open already.)
			if done, aerr := c.b.Allow(); aerr == nil {
				done(o)
			}
		}
	}
	return asTimeout(c.parent, err)
}

// outcome is what a call's error means to its breaker: nil for a success
// or a Redis error reply (the server is up), errExcluded for the caller's
// own cancellation or deadline, and for a deadline the guard set that
// expired while this process was starved of CPU (the reply may have sat
// unread behind a busy scheduler: an overloaded client is not a dead
// server), errFailure for an unreachable store or any other deadline the
// guard set.
//
// Starvation shows two ways: the timed-out call itself is handled late
// (its goroutine ran well after the deadline passed: lateTimeout), or the
// scheduler's histogram says wake-ups have been waiting (Starved).
func (s *Store) outcome(parent context.Context, err error, deadline time.Time) error {
	switch {
	case err == nil:
		return nil
	case parent.Err() != nil:
		return errExcluded
	case errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrAuth):
		// A refused password fails every call and every reconnect: open,
		// so that calls fail fast and the client redials at the breaker's
		// probe rate, not at the callers' rate.
		return errFailure
	case errors.Is(err, store.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
		if !deadline.IsZero() && (time.Since(deadline) > s.late || s.starve.StarvedSince(deadline.Add(-s.op))) || s.starve.Starved() {
			s.starvedTimeouts.Add(1)
			return errExcluded
		}
		return errFailure
	}
	return nil
}

// asTimeout marks a deadline the guard set as store.ErrTimeout.
func asTimeout(parent context.Context, err error) error {
	if err != nil && parent.Err() == nil && errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, store.ErrTimeout) {
		err = fmt.Errorf("%w: %w", store.ErrTimeout, err)
	}
	return err
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return s.GetAt(ctx, key, 0)
}

// GetAt is Get of a call that started at now, a reading of mono.Now that
// its caller took for its own timing: the call is bounded from it, and
// the guard reads no clock of its own. 0 means no reading.
func (s *Store) GetAt(ctx context.Context, key string, now time.Duration) ([]byte, bool, error) {
	ctx, c, err := s.beginKeyAt(ctx, s.op, key, now)
	if err != nil {
		return nil, false, err
	}
	v, found, err := s.next.Get(ctx, key)
	return v, found, c.end(err)
}

// GetMany implements store.Store. On a partitioned store, the keys of
// partitions whose breaker is open are not sent, the others are, in one
// call, and each partition's breaker learns its own keys' outcome; what was
// read comes back with a *store.PartialError naming what was not.
func (s *Store) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	return s.GetManyAt(ctx, keys, 0)
}

// GetManyAt is GetMany of a call that started at now, as GetAt.
func (s *Store) GetManyAt(ctx context.Context, keys []string, now time.Duration) ([][]byte, error) {
	if s.part != nil && len(keys) > 1 && !s.disabled {
		out := make([][]byte, len(keys))
		err := s.spread(ctx, len(keys), func(i int) string { return keys[i] }, func(ctx context.Context, idx []int) error {
			vals, err := s.next.GetMany(ctx, pick(keys, idx))
			for j, v := range vals {
				out[at(idx, j)] = v
			}
			return err
		})
		if err != nil && !isPartial(err) {
			return nil, err
		}
		return out, err
	}
	ctx, c, err := s.beginKeysAt(ctx, s.batch, len(keys), func(i int) string { return keys[i] }, now)
	if err != nil {
		return nil, err
	}
	v, err := s.next.GetMany(ctx, keys)
	return v, c.end(err)
}

// pick returns the elements of xs that spread sends: xs[idx...], or all
// of xs when idx is nil.
func pick[E any](xs []E, idx []int) []E {
	if idx == nil {
		return xs
	}
	out := make([]E, len(idx))
	for j, i := range idx {
		out[j] = xs[i]
	}
	return out
}

// at returns the batch index of the j-th element spread sent.
func at(idx []int, j int) int {
	if idx == nil {
		return j
	}
	return idx[j]
}

func isPartial(err error) bool {
	var pe *store.PartialError
	return errors.As(err, &pe)
}

// spread runs a batch of n keys on a partitioned store. While every
// partition breaker is closed the whole batch goes out at once, with no
// admission and no hashing of its keys (gobreaker allocates per admission,
// about 55 per 100-key batch on a three-shard cluster), and only the
// partitions of keys that failed are told, which is what trips them. Once
// any is open, keys of partitions that do not admit them are not sent, and
// each admitted partition learns its own keys' outcome.
//
// send gets the indexes of the keys to send, nil meaning all of them, and
// returns nil, a *store.PartialError whose Failed indexes are positions in
// what it sent, or an error that failed it all. spread returns nil, a
// *store.PartialError in batch indexes, or the error of a batch none of
// which succeeded.
func (s *Store) spread(parent context.Context, n int, key func(int) string, send func(ctx context.Context, idx []int) error) error {
	r := spreadRun{s: s, key: key}
	if s.partsOpen.Load() != 0 {
		r.admit(n)
	}
	sent := len(r.idx)
	if r.idx == nil {
		sent = n
	}
	if sent > 0 {
		r.send(parent, sent, send)
	}
	switch {
	case len(r.failed) == 0:
		return nil
	case len(r.failed) == n:
		// Nothing succeeded: the batch's error is its first key's cause.
		return r.causes[slices.Index(r.failed, slices.Min(r.failed))]
	}
	return store.NewPartialError(r.failed, r.causes)
}

// A partition's state in a spreadRun, once any partition is open.
const (
	partUnseen = iota
	partAdmitted
	partRejected
	partAdmittedFailed // admitted, and a key of it failed
)

// spreadRun is one batch's way through spread.
type spreadRun struct {
	s      *Store
	key    func(int) string
	idx    []int   // what is sent; nil: everything
	state  []uint8 // by partition, once any is open
	dones  []func(error)
	failed []int   // batch indexes
	causes []error // causes[i] is why failed[i] failed
}

// admit asks each partition of the batch's keys once whether it takes
// calls, and keeps the keys of those that do to send.
func (r *spreadRun) admit(n int) {
	s := r.s
	r.state, r.dones = make([]uint8, len(s.parts)), make([]func(error), len(s.parts))
	r.idx = make([]int, 0, n)
	for i := range n {
		p := s.part(r.key(i))
		if r.state[p] == partUnseen {
			if done, err := s.parts[p].Allow(); err == nil {
				r.state[p], r.dones[p] = partAdmitted, done
			} else {
				r.state[p] = partRejected
				s.rejected.Add(1)
			}
		}
		if r.state[p] == partRejected {
			r.failed, r.causes = append(r.failed, i), append(r.causes, s.parts[p].openErr())
			continue
		}
		r.idx = append(r.idx, i)
	}
}

// send sends the admitted keys (sent of them) within the batch bound, and
// tells each partition the outcome of its own keys.
func (r *spreadRun) send(parent context.Context, sent int, send func(ctx context.Context, idx []int) error) {
	s := r.s
	ctx, cancel := s.bound(parent, s.batch, 0)
	deadline, _ := ctx.Deadline()
	err := send(ctx, r.idx)
	cancel()
	var (
		bad   []int // positions in what was sent
		why   func(j int) error
		pe    *store.PartialError
		told  map[int]bool // all-closed partitions told of a failure
		fails []error      // by partition, once any is open: what to tell it
	)
	switch {
	case err == nil:
	case errors.As(err, &pe):
		bad, why = pe.Failed, func(j int) error { return asTimeout(parent, pe.Errs[j]) }
	default:
		err = asTimeout(parent, err)
		bad, why = make([]int, sent), func(int) error { return err }
		for j := range bad {
			bad[j] = j
		}
	}
	// Each partition learns the outcome of its own keys: a healthy shard's
	// keys that failed with the server's reply (CLUSTERDOWN) in a batch
	// where a dead shard's could not be sent must not trip the healthy
	// shard's breaker.
	for b, j := range bad {
		i, cause := at(r.idx, j), why(b)
		r.failed, r.causes = append(r.failed, i), append(r.causes, cause)
		fail := s.outcome(parent, cause, deadline)
		if fail == nil {
			continue
		}
		p := s.part(r.key(i))
		switch {
		case r.state != nil:
			r.state[p] = partAdmittedFailed
			if fails == nil {
				fails = make([]error, len(s.parts))
			}
			if fails[p] == nil || fail == errFailure {
				fails[p] = fail // a failure outweighs an excluded call
			}
		case !told[p]:
			if told == nil {
				told = map[int]bool{}
			}
			told[p] = true
			if done, aerr := s.parts[p].Allow(); aerr == nil {
				done(fail)
			}
		}
	}
	for p, st := range r.state {
		switch st {
		case partAdmitted:
			r.dones[p](nil)
		case partAdmittedFailed:
			// A failure, or excluded (the caller's own context ended, or a
			// timeout while this process was starved).
			r.dones[p](fails[p])
		}
	}
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, c, err := s.beginKey(ctx, s.op, key)
	if err != nil {
		return err
	}
	return c.end(s.next.Set(ctx, key, value, ttl))
}

// SetMany implements store.Store; on a partitioned store as GetMany does:
// entries of partitions whose breaker is open are not sent, and a batch
// that failed in part returns a *store.PartialError naming those entries.
func (s *Store) SetMany(ctx context.Context, entries []store.Entry) error {
	if s.part != nil && len(entries) > 1 && !s.disabled {
		return s.spread(ctx, len(entries), func(i int) string { return entries[i].Key }, func(ctx context.Context, idx []int) error {
			return s.next.SetMany(ctx, pick(entries, idx))
		})
	}
	ctx, c, err := s.beginKeys(ctx, s.batch, len(entries), func(i int) string { return entries[i].Key })
	if err != nil {
		return err
	}
	return c.end(s.next.SetMany(ctx, entries))
}

// SetNX implements store.Store.
func (s *Store) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ctx, c, err := s.beginKey(ctx, s.op, key)
	if err != nil {
		return false, err
	}
	ok, err := s.next.SetNX(ctx, key, value, ttl)
	return ok, c.end(err)
}

// DeleteIfEqual implements store.Store.
func (s *Store) DeleteIfEqual(ctx context.Context, key string, value []byte) (bool, error) {
	ctx, c, err := s.beginKey(ctx, s.op, key)
	if err != nil {
		return false, err
	}
	ok, err := s.next.DeleteIfEqual(ctx, key, value)
	return ok, c.end(err)
}

// SetIfNewer implements store.Store.
func (s *Store) SetIfNewer(ctx context.Context, key, verKey string, value []byte, version uint64, ttl time.Duration) (bool, error) {
	ctx, c, err := s.beginKey(ctx, s.op, key)
	if err != nil {
		return false, err
	}
	ok, err := s.next.SetIfNewer(ctx, key, verKey, value, version, ttl)
	return ok, c.end(err)
}

// GetEx implements store.Store.
func (s *Store) GetEx(ctx context.Context, key string, ttl time.Duration) ([]byte, bool, error) {
	ctx, c, err := s.beginKey(ctx, s.op, key)
	if err != nil {
		return nil, false, err
	}
	v, found, err := s.next.GetEx(ctx, key, ttl)
	return v, found, c.end(err)
}

// Delete implements store.Store.
//
// On a partitioned store, as GetMany does: keys of partitions whose breaker
// is open are not sent, and a *store.PartialError names every key not
// deleted.
func (s *Store) Delete(ctx context.Context, keys ...string) (int64, error) {
	if s.part != nil && len(keys) > 1 && !s.disabled {
		var total int64
		err := s.spread(ctx, len(keys), func(i int) string { return keys[i] }, func(ctx context.Context, idx []int) error {
			n, err := s.next.Delete(ctx, pick(keys, idx)...)
			total = n
			return err
		})
		return total, err
	}
	ctx, c, err := s.beginKeys(ctx, s.batch, len(keys), func(i int) string { return keys[i] })
	if err != nil {
		return 0, err
	}
	n, err := s.next.Delete(ctx, keys...)
	return n, c.end(err)
}

// Exists implements store.Store.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	ctx, c, err := s.beginKey(ctx, s.op, key)
	if err != nil {
		return false, err
	}
	ok, err := s.next.Exists(ctx, key)
	return ok, c.end(err)
}

// TTL implements store.Store.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	ctx, c, err := s.beginKey(ctx, s.op, key)
	if err != nil {
		return 0, false, err
	}
	ttl, ok, err := s.next.TTL(ctx, key)
	return ttl, ok, c.end(err)
}

// Expire implements store.Store.
func (s *Store) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ctx, c, err := s.beginKey(ctx, s.op, key)
	if err != nil {
		return false, err
	}
	ok, err := s.next.Expire(ctx, key, ttl)
	return ok, c.end(err)
}

// DeletePrefix implements store.Store.
func (s *Store) DeletePrefix(ctx context.Context, prefix string, batch int) (int64, error) {
	ctx, c, err := s.begin(ctx, s.scan)
	if err != nil {
		return 0, err
	}
	n, err := s.next.DeletePrefix(ctx, prefix, batch)
	return n, c.end(err)
}

// Announce implements store.Store.
func (s *Store) Announce(ctx context.Context, key, member string, ttl time.Duration) error {
	ctx, c, err := s.beginKey(ctx, s.op, key)
	if err != nil {
		return err
	}
	return c.end(s.next.Announce(ctx, key, member, ttl))
}

// Members implements store.Store.
func (s *Store) Members(ctx context.Context, key string, limit int) ([]store.Member, error) {
	ctx, c, err := s.beginKey(ctx, s.op, key)
	if err != nil {
		return nil, err
	}
	m, err := s.next.Members(ctx, key, limit)
	return m, c.end(err)
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	ctx, c, err := s.begin(ctx, s.op)
	if err != nil {
		return err
	}
	return c.end(s.next.Ping(ctx))
}

// Close implements store.Store: it closes the guarded store.
func (s *Store) Close() error { return s.next.Close() }
