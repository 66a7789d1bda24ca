package models_test

import (
	"context"
	"fmt"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/trading/models"
)

// A model's predictions are written under its version; deploying the
// next version makes the old predictions absent.
func Example() {
	ctx := context.Background()
	cache, err := tradecache.New(ctx, tradecache.Config{}) // the embedded store; give it Redis in production
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	m := models.New(cache)

	_ = m.PutPredictions(ctx, "alpha", "v1", []models.Prediction{
		{Entity: "AAPL", Score: 0.72, Vector: codec.Vector32{0.1, 0.9}},
		{Entity: "MSFT", Score: 0.41, Vector: codec.Vector32{0.6, 0.4}},
	}, 0)
	_ = m.Deploy(ctx, "alpha", "v1")
	p, _ := m.Predictions(ctx, "alpha", "v1", []string{"AAPL", "MSFT", "NVDA"})
	fmt.Println(len(p), p["AAPL"].Score, p["AAPL"].Vector)

	_ = m.Deploy(ctx, "alpha", "v2") // v1's entries go, everywhere
	p, _ = m.Predictions(ctx, "alpha", "v1", []string{"AAPL", "MSFT"})
	fmt.Println(len(p))
	// Output:
	// 2 0.72 [0.1 0.9]
	// 0
}
