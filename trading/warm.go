package trading

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tradecache/tradecache"
)

// WarmOptions tunes Warm. The zero value means the defaults.
type WarmOptions struct {
	// Concurrency bounds the loaders running at once; 0 means 8.
	Concurrency int
	// TTL for warmed values; 0 means the namespace's policy.
	TTL time.Duration
	// SkipExisting leaves keys that already exist alone (counted as
	// skipped) instead of reloading them.
	SkipExisting bool
	// Progress, when set, is called after each key with the counts so far.
	// Calls come from the worker goroutines, one at a time.
	Progress func(done, total int)
}

// WarmSummary is what Warm did.
type WarmSummary struct {
	Loaded, Failed, Skipped int
	Duration                time.Duration
	// Errors holds each failed key's error.
	Errors map[string]error
}

// Warm fills ns with load(key) for every key, ahead of the market open,
// with bounded concurrency. A failing key does not stop the rest: it is
// counted and its error kept in the summary. Warm returns ctx's error if
// ctx ends first, with the summary of what was done.
func Warm[T any](ctx context.Context, ns *tradecache.Namespace, keys []string, load func(ctx context.Context, key string) (T, error), o WarmOptions) (WarmSummary, error) {
	start := time.Now()
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	var (
		loaded, failed, skipped atomic.Int64
		mu                      sync.Mutex // Errors and Progress
		errs                    = map[string]error{}
		done                    int
		wg                      sync.WaitGroup
		next                    = make(chan string)
	)
	report := func(key string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs[key] = err
		}
		done++
		if o.Progress != nil {
			o.Progress(done, len(keys))
		}
	}
	for range min(o.Concurrency, max(1, len(keys))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range next {
				if o.SkipExisting {
					if ok, err := ns.Exists(ctx, key); err == nil && ok {
						skipped.Add(1)
						report(key, nil)
						continue
					}
				}
				v, err := load(ctx, key)
				if err == nil {
					err = ns.Set(ctx, key, v, o.TTL)
				}
				if err != nil {
					failed.Add(1)
				} else {
					loaded.Add(1)
				}
				report(key, err)
			}
		}()
	}
	var ctxErr error
feed:
	for _, k := range keys {
		select {
		case next <- k:
		case <-ctx.Done():
			ctxErr = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	return WarmSummary{Loaded: int(loaded.Load()), Failed: int(failed.Load()), Skipped: int(skipped.Load()),
		Duration: time.Since(start), Errors: errs}, ctxErr
}
