package wake

import "testing"

func TestAnnounceWakesOnlyItsName(t *testing.T) {
	var b Board
	a, stopA := b.Watch("a")
	a2, stopA2 := b.Watch("a")
	other, stopOther := b.Watch("b")
	b.Announce("a")
	for _, ch := range []<-chan struct{}{a, a2} {
		select {
		case <-ch:
		default:
			t.Fatal("a watcher of a was not woken")
		}
	}
	select {
	case <-other:
		t.Fatal("a watcher of b was woken by a's announcement")
	default:
	}
	stopA()
	stopA2() // stop after the wake is harmless
	stopOther()
	if n := b.Len(); n != 0 {
		t.Fatalf("%d names still watched after every watcher stopped", n)
	}
	b.Announce("nobody") // nobody watching: nothing happens
}
