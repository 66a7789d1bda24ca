// Package models caches model predictions and feature sets on a
// tradecache.Cache, so that a trading system's models need no second
// store: the same Redis, the same fail-safe and bounds, the same tags.
//
// Every entry is keyed by its model's (or feature set's) name and version
// and by the entity it is about (a symbol, an account), and carries the
// tag VersionTag(name, version). Deploy makes a new version current and
// invalidates the previous one's tag: every entry of the old version then
// reads as absent, in Go and in Python, on every instance, in one write.
//
// Vectors (features, embeddings, a model's outputs) are codec.Vector32 or
// codec.Vector64: exact to the bit, 4 or 8 bytes an element
// (docs/wire-format.md, extensions 5 and 6). Python writes and reads the
// same entries (python/tradecache: put_predictions, get_predictions,
// deploy_model, put_features, get_features), so a Python model's
// predictions are read, typed, by a Go service, and the reverse.
package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
)

// The namespaces the package uses. Give them policies (TTL, near tier) in
// Config.Namespaces like any other.
const (
	NamespaceModels      = "models"      // the current version of each model
	NamespacePredictions = "predictions" // predictions, by model, version and entity
	NamespaceFeatures    = "features"    // feature sets, by set, version and entity
)

// Prediction is one model output for one entity. Python writes it as a
// dict with the same keys (the vector as array('f')).
type Prediction struct {
	Model   string         `json:"model"`
	Version string         `json:"version"`
	Entity  string         `json:"entity"`
	Score   float64        `json:"score"`
	Vector  codec.Vector32 `json:"vector"`
	At      time.Time      `json:"at"`
}

// Features is one entity's feature vector in a feature set.
type Features struct {
	Entity string         `json:"entity"`
	Values codec.Vector32 `json:"values"`
	At     time.Time      `json:"at"`
}

// FeatureSet names a set of features, its version, and MaxAge: features
// loaded longer ago than MaxAge are not served as current, they are
// loaded again (0: the namespace's TTL).
type FeatureSet struct {
	Name, Version string
	MaxAge        time.Duration
}

// Models is the models view of a Cache.
type Models struct {
	c     *tradecache.Cache
	meta  tradecache.Handle[string]
	preds tradecache.Handle[Prediction]
	feats tradecache.Handle[Features]
}

// New returns the models view of c.
func New(c *tradecache.Cache) *Models {
	return &Models{c: c, meta: tradecache.Of[string](c, NamespaceModels),
		preds: tradecache.Of[Prediction](c, NamespacePredictions), feats: tradecache.Of[Features](c, NamespaceFeatures)}
}

// VersionTag is the tag every entry of name (a model or a feature set) at
// version carries.
func VersionTag(name, version string) string { return "model:" + name + "@" + version }

// ErrBadName is returned for a model, feature set or version name that
// cannot be part of a key: empty, or holding '@', ':' or whitespace.
var ErrBadName = errors.New("models: a name or version must be non-empty, without '@', ':' or whitespace")

func checkNames(names ...string) error {
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, "@: \t\r\n") {
			return fmt.Errorf("%w: %q", ErrBadName, n)
		}
	}
	return nil
}

// entryKey is the key of an entity's entry of name at version.
func entryKey(name, version, entity string) string { return name + "@" + version + ":" + entity }

func entryKeys(name, version string, entities []string) []string {
	keys := make([]string, len(entities))
	for i, e := range entities {
		keys[i] = entryKey(name, version, e)
	}
	return keys
}

// Deploy makes version the current version of model, and invalidates the
// previous current version's entries: they read as absent from then on,
// in every process and language. Deploying the current version again
// changes nothing.
func (m *Models) Deploy(ctx context.Context, model, version string) error {
	if err := checkNames(model, version); err != nil {
		return err
	}
	prev, found, err := m.meta.Get(ctx, model)
	if err != nil {
		return err
	}
	if found && prev == version {
		return nil
	}
	if err := m.meta.Set(ctx, model, version, 0); err != nil {
		return err
	}
	if found && prev != "" {
		return m.c.InvalidateTag(ctx, VersionTag(model, prev))
	}
	return nil
}

// Current returns model's current version (Deploy), found false when it
// was never deployed.
func (m *Models) Current(ctx context.Context, model string) (string, bool, error) {
	if err := checkNames(model); err != nil {
		return "", false, err
	}
	return m.meta.Get(ctx, model)
}

// PutPredictions stores predictions of model at version, each under its
// entity, tagged with the version, in one round trip per MaxBatchSize.
// Each prediction's Model and Version are set to model and version.
func (m *Models) PutPredictions(ctx context.Context, model, version string, preds []Prediction, ttl time.Duration) error {
	if err := checkNames(model, version); err != nil {
		return err
	}
	items := make(map[string]Prediction, len(preds))
	for _, p := range preds {
		p.Model, p.Version = model, version
		items[entryKey(model, version, p.Entity)] = p
	}
	return m.preds.SetMany(ctx, items, ttl, tradecache.Tagged(VersionTag(model, version)))
}

// Predictions returns the predictions of model at version for entities,
// by entity, in one round trip per MaxBatchSize; an entity without one
// (never written, expired, or of a version since replaced) is absent.
func (m *Models) Predictions(ctx context.Context, model, version string, entities []string) (map[string]Prediction, error) {
	if err := checkNames(model, version); err != nil {
		return nil, err
	}
	got, err := m.preds.GetMany(ctx, entryKeys(model, version, entities))
	out := make(map[string]Prediction, len(got))
	for _, p := range got {
		out[p.Entity] = p
	}
	return out, err
}

// PutFeatures stores feature vectors of set, tagged with its version.
func (m *Models) PutFeatures(ctx context.Context, set FeatureSet, feats []Features) error {
	if err := checkNames(set.Name, set.Version); err != nil {
		return err
	}
	items := make(map[string]Features, len(feats))
	for _, f := range feats {
		items[entryKey(set.Name, set.Version, f.Entity)] = f
	}
	return m.feats.SetMany(ctx, items, set.MaxAge, tradecache.Tagged(VersionTag(set.Name, set.Version)))
}

// Features returns the features of set for entities, as inference needs
// them: the ones cached and fresh (loaded within set.MaxAge) in one round
// trip per MaxBatchSize, and the rest from load, called once with all of
// them, then cached. An entity load leaves out is absent. Features loaded
// while a version was replaced carry the old version's tag, and are not
// served as current.
func (m *Models) Features(ctx context.Context, set FeatureSet, entities []string,
	load func(ctx context.Context, missing []string) (map[string]Features, error)) (map[string]Features, error) {
	if err := checkNames(set.Name, set.Version); err != nil {
		return nil, err
	}
	keys := entryKeys(set.Name, set.Version, entities)
	byKey := make(map[string]string, len(keys))
	for i, k := range keys {
		byKey[k] = entities[i]
	}
	opts := []tradecache.LoadOption{tradecache.WithTags(VersionTag(set.Name, set.Version))}
	if set.MaxAge > 0 {
		opts = append(opts, tradecache.WithTTL(set.MaxAge))
	}
	got, _, err := m.feats.GetManyOrLoad(ctx, keys, func(ctx context.Context, missing []string) (map[string]Features, error) {
		ents := make([]string, len(missing))
		for i, k := range missing {
			ents[i] = byKey[k]
		}
		loaded, err := load(ctx, ents)
		if err != nil {
			return nil, err
		}
		out := make(map[string]Features, len(loaded))
		for e, f := range loaded {
			f.Entity = e
			out[entryKey(set.Name, set.Version, e)] = f
		}
		return out, nil
	}, opts...)
	out := make(map[string]Features, len(got))
	for k, f := range got {
		out[byKey[k]] = f
	}
	return out, err
}
