package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/tradecache/tradecache/fleet"
	"golang.org/x/term"
)

// `tradecache top` is a live view of the fleet's published figures,
// redrawn in place every --interval. It draws with tcell: the terminal's
// own capabilities (terminfo) rather than assumed escape codes, resize
// and key events, wide characters, and the terminal put back as it was on
// exit. A whole UI framework (bubbletea) would add a model-update-view
// loop and styling packages for what is one screen of text redrawn on a
// timer. When stdout is not a terminal, or with --once, frames are
// printed one after another as plain text, as redis-cli --stat does.

func runTop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	fs.SetOutput(stderr)
	interval := fs.Duration("interval", time.Second, "how often to reread the figures")
	keys := fs.Bool("keys", false, "show hot keys as keys, not as key hashes (keys can be session tokens)")
	once := fs.Bool("once", false, "print one frame as text and exit")
	memory := fs.Bool("memory", false, "run on this process's in-memory store when no Redis is configured")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *interval < 100*time.Millisecond {
		return usageError{msg: "top --interval must be at least 100ms"}
	}
	c, err := openCache(ctx, *memory, false, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	frame := func(showKeys bool, width int) []string {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		v, err := readFleet(rctx, c, showKeys)
		if err != nil {
			return []string{topTitle(time.Now()), "", "cannot read the figures: " + err.Error()}
		}
		return topFrame(v, width)
	}
	f, isFile := stdout.(*os.File)
	if *once || !isFile || !term.IsTerminal(int(f.Fd())) {
		for {
			fmt.Fprintln(stdout, strings.Join(frame(*keys, 0), "\n"))
			if *once {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(*interval):
			}
			fmt.Fprintln(stdout)
		}
	}
	return topScreen(ctx, *interval, *keys, frame)
}

// topScreen redraws frame on the terminal every interval until q, Esc,
// Ctrl-C or ctx's end; k toggles keys and hashes.
func topScreen(ctx context.Context, interval time.Duration, showKeys bool, frame func(showKeys bool, width int) []string) error {
	s, err := tcell.NewScreen()
	if err != nil {
		return err
	}
	if err := s.Init(); err != nil {
		return err
	}
	defer s.Fini()
	events := make(chan tcell.Event)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		for {
			ev := s.PollEvent()
			if ev == nil {
				return // Fini
			}
			select {
			case events <- ev:
			case <-quit:
				return
			}
		}
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	draw := func() {
		w, _ := s.Size()
		s.Clear()
		for y, line := range frame(showKeys, w) {
			style := tcell.StyleDefault
			if y == 0 || strings.HasPrefix(line, "NAMESPACE") || strings.HasPrefix(line, "INSTANCE") || strings.HasPrefix(line, "HOT KEYS") {
				style = style.Bold(true)
			}
			x := 0
			for _, r := range line {
				s.SetContent(x, y, r, nil, style)
				x++
			}
		}
		s.Show()
	}
	draw()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			draw()
		case ev := <-events:
			switch e := ev.(type) {
			case *tcell.EventResize:
				s.Sync()
				draw()
			case *tcell.EventKey:
				switch {
				case e.Key() == tcell.KeyEscape, e.Key() == tcell.KeyCtrlC, e.Rune() == 'q':
					return nil
				case e.Rune() == 'k':
					showKeys = !showKeys
					draw()
				}
			}
		}
	}
}

func topTitle(now time.Time) string {
	return "tradecache top  " + now.Format("15:04:05") + "  (q quits, k shows keys or hashes)"
}

// topFrame lays out one frame: the server, the fleet's last interval, then
// per namespace, per instance, and the hot keys. Rates, hit rates and
// p99s are of each instance's last published interval; width (0: no
// limit) cuts lines that would wrap.
func topFrame(v fleetView, width int) []string {
	lines := []string{topTitle(v.at)}
	backend := v.Backend
	if v.Topology != "" {
		backend += " " + v.Topology
	}
	if r := v.Redis; r != nil {
		lines = append(lines, fmt.Sprintf("%s  memory %s  clients %d  evicted %d  ops/s %d", backend,
			r.UsedMemoryHuman, r.ConnectedClients, r.EvictedKeys, r.InstantaneousOpsPerSec))
	} else {
		lines = append(lines, "store "+backend)
	}
	r := v.Recent
	others := ""
	if n := len(v.Instances) - v.Running; n > 0 {
		others = fmt.Sprintf(" (+%d stopped or silent)", n)
	}
	lines = append(lines, fmt.Sprintf("fleet %d running%s  %s ops/s  hit rate %s  p99 %s  errors %d  (prefix %s)",
		v.Running, others, rate(r.OpsPerSec), pct(r.HitRate, r.Hits+r.Misses), dur(r.Latency.P99, r.Latency.Count), r.Errors, v.Prefix))
	for _, rf := range v.Refused {
		lines = append(lines, "refused "+rf.Instance+": "+rf.Reason)
	}
	lines = append(lines, "", fmt.Sprintf("%-24s %10s %9s %10s %8s", "NAMESPACE", "OPS/S", "HIT RATE", "P99", "ERRORS"))
	for _, name := range sortedKeys(r.Namespaces) {
		n := r.Namespaces[name]
		lines = append(lines, fmt.Sprintf("%-24s %10s %9s %10s %8d", name, rate(n.OpsPerSec), pct(n.HitRate, n.Hits+n.Misses), dur(n.Latency.P99, n.Latency.Count), n.Errors))
	}
	lines = append(lines, "", fmt.Sprintf("%-24s %-16s %-8s %10s %9s %10s %8s %-10s %6s %7s", "INSTANCE", "HOST", "STATE", "OPS/S", "HIT RATE", "P99", "ERRORS", "BREAKER", "AGE", "INVAL Q"))
	for _, in := range v.Instances {
		ir := in.Recent
		ops := "-" // a stopped or silent instance's last rate is not a current one
		if in.State == fleet.Running {
			ops = rate(ir.OpsPerSec)
		}
		lines = append(lines, fmt.Sprintf("%-24s %-16s %-8s %10s %9s %10s %8d %-10s %6s %7d", in.Instance, in.Host, in.State, ops,
			pct(ir.HitRate, ir.Hits+ir.Misses), dur(ir.Latency.P99, ir.Latency.Count), ir.Errors, in.Breaker, round(in.Age).Truncate(time.Second),
			in.Invalidations.Queued))
	}
	if len(v.Instances) == 0 {
		lines = append(lines, "(none live: no Cache has published under this prefix in the last three intervals)")
	}
	lines = append(lines, "", fmt.Sprintf("%-24s %-34s %12s", "HOT KEYS", "KEY", "READS/S"))
	for _, k := range v.HotKeys {
		lines = append(lines, fmt.Sprintf("%-24s %-34s %12s", k.Namespace, hotKeyName(k), rate(k.ReadsPerSec)))
	}
	if width > 0 {
		for i, l := range lines {
			if rs := []rune(l); len(rs) > width {
				lines[i] = string(rs[:width])
			}
		}
	}
	return lines
}

func rate(r float64) string {
	if r >= 10000 {
		return fmt.Sprintf("%.1fk", r/1000)
	}
	return fmt.Sprintf("%.0f", r)
}

// pct is a hit rate, or "-" when there were no reads to rate.
func pct(r float64, reads uint64) string {
	if reads == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*r)
}

func dur(d time.Duration, n uint64) string {
	if n == 0 {
		return "-"
	}
	return round(d).String()
}
