// Package wake lets goroutines wait for a named event, such as the release
// of a lock, that another goroutine announces: the stores use it to wake
// get-or-load's lock waiters when the holder lets go, rather than have
// them poll.
package wake

import "sync"

// Board holds the goroutines waiting on each name. The zero value is
// ready to use.
type Board struct {
	mu      sync.Mutex
	waiting map[string]map[chan struct{}]struct{}
}

// Watch returns a channel that Announce(name) closes, and stop, which
// withdraws it; call stop when done, whether or not it was closed.
func (b *Board) Watch(name string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	b.mu.Lock()
	if b.waiting == nil {
		b.waiting = map[string]map[chan struct{}]struct{}{}
	}
	set := b.waiting[name]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		b.waiting[name] = set
	}
	set[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if set, ok := b.waiting[name]; ok {
			if _, ok := set[ch]; ok {
				delete(set, ch)
				if len(set) == 0 {
					delete(b.waiting, name)
				}
			}
		}
	}
}

// Announce wakes every goroutine watching name, and forgets them.
func (b *Board) Announce(name string) {
	b.mu.Lock()
	set := b.waiting[name]
	delete(b.waiting, name)
	b.mu.Unlock()
	for ch := range set {
		close(ch)
	}
}

// Watched reports whether anyone watches name: a store announcing from a
// subscription skips the names nobody here waits on.
func (b *Board) Watched(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiting[name]) > 0
}

// Len reports how many names are watched, for tests and leak checks.
func (b *Board) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiting)
}
