package trading

import (
	"context"
	"errors"
	"time"

	"github.com/tradecache/tradecache"
)

// Session is a user session. Sessions live in the session namespace, which
// is sealed (AES-256-GCM) whenever encryption keys are configured.
type Session struct {
	ID        string            `json:"id"`
	User      string            `json:"user"`
	Data      map[string]string `json:"data,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
}

// Sessions manages sessions with a sliding TTL and an absolute maximum
// lifetime that touching cannot extend.
type Sessions struct {
	ns          *tradecache.Namespace
	now         func() time.Time // the Cache's clock
	idle, limit time.Duration
}

// NewSessions returns the session manager of c: a session expires after
// idle without a Touch (0 means the session TTL policy), and after
// maxLifetime from creation whatever happens (0 means 24h).
func NewSessions(c *tradecache.Cache, idle, maxLifetime time.Duration) (*Sessions, error) {
	ns := c.Namespace(tradecache.NamespaceSession)
	if idle < 0 || maxLifetime < 0 {
		return nil, errors.New("trading: session durations must not be negative")
	}
	if idle == 0 {
		idle = ns.DefaultTTL()
	}
	if maxLifetime == 0 {
		maxLifetime = 24 * time.Hour
	}
	return &Sessions{ns: ns, now: c.Now, idle: idle, limit: maxLifetime}, nil
}

// ttl is the TTL a touch at now may give s: the idle window, cut short by
// the maximum lifetime. Zero or less means the session is over.
func (m *Sessions) ttl(s Session, now time.Time) time.Duration {
	return min(m.idle, s.CreatedAt.Add(m.limit).Sub(now))
}

// Create stores a new session. CreatedAt is set now (by the Cache's
// clock) when zero.
func (m *Sessions) Create(ctx context.Context, s Session) error {
	now := m.now()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	ttl := m.ttl(s, now)
	if ttl <= 0 {
		return errors.New("trading: session is already past its maximum lifetime")
	}
	return m.ns.Set(ctx, s.ID, s, ttl)
}

// Get returns the session without extending it.
func (m *Sessions) Get(ctx context.Context, id string) (Session, bool, error) {
	var s Session
	found, err := m.ns.Get(ctx, id, &s)
	return s, found, err
}

// Touch returns the session and slides its expiry in the same round trip
// (GETEX), never past its maximum lifetime; a session past it is deleted
// and reported as not found.
func (m *Sessions) Touch(ctx context.Context, id string) (Session, bool, error) {
	var s Session
	// The sliding TTL goes on with the read; the lifetime is checked on
	// what was read, and corrected if the read made it too long.
	found, err := m.ns.Touch(ctx, id, &s, m.idle)
	if err != nil || !found {
		return Session{}, false, err
	}
	switch ttl := m.ttl(s, m.now()); {
	case ttl <= 0:
		_, err := m.ns.Delete(ctx, id)
		return Session{}, false, err
	case ttl < m.idle:
		if _, err := m.ns.Expire(ctx, id, ttl); err != nil {
			return Session{}, false, err
		}
	}
	return s, true, nil
}

// Delete ends the session.
func (m *Sessions) Delete(ctx context.Context, id string) error {
	_, err := m.ns.Delete(ctx, id)
	return err
}
