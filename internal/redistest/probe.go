package redistest

import (
	"sync"
	"time"
)

// A Probe times PING round trips to one server, one every period on a
// connection of its own, from StartProbe until Stop. A client's call that
// timed out while the server's own round trips were as slow says nothing of
// the client: the server, or the whole machine, was waiting for a CPU (make
// test runs pytest and two test binaries beside a dozen redis-servers). The
// client's own starvation is the guard's to see (Stats' Starved); a server
// kept off the CPU is not, and this is what a test asks about it.
type Probe struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	res  ProbeResult
}

// ProbeResult is what a Probe saw.
type ProbeResult struct {
	Pings   int           // round trips completed
	Slow    int           // of them, those that took longer than the slow bound
	Longest time.Duration // the longest, or the time spent on one that never completed
	Errs    int           // round trips that failed (and redials)
}

// StartProbe starts probing addr every period; a round trip longer than
// slow counts as Slow.
func StartProbe(addr string, period, slow time.Duration) *Probe {
	p := &Probe{stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(addr, period, slow)
	return p
}

func (p *Probe) run(addr string, period, slow time.Duration) {
	defer close(p.done)
	t := time.NewTicker(period)
	defer t.Stop()
	c, r, _ := connect(addr)
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		start := time.Now()
		var err error
		if c == nil {
			c, r, err = connect(addr)
		}
		if err == nil {
			_ = c.SetDeadline(start.Add(5 * time.Second))
			_, err = roundTrip(c, r, "PING")
		}
		took := time.Since(start)
		p.mu.Lock()
		p.res.Longest = max(p.res.Longest, took)
		if err != nil {
			p.res.Errs++
		} else {
			p.res.Pings++
			if took > slow {
				p.res.Slow++
			}
		}
		p.mu.Unlock()
		if err != nil && c != nil {
			c.Close()
			c = nil
		}
	}
}

// Stop ends the probe and returns what it saw.
func (p *Probe) Stop() ProbeResult {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.res
}
