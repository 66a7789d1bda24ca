// Package sizeof estimates how much memory a decoded value holds, for
// caches that must bound what they keep by its size in memory rather than
// by the bytes it was decoded from: a few hundred compressed bytes can
// decode to megabytes.
//
// The estimate is the value's own size plus everything it reaches through
// pointers, slices, maps, strings and interfaces, counting each allocation
// it can see (a *time.Location, shared by every time in its zone, is not
// counted). It walks at most a bounded number of nodes and
// reports what it has seen so far past that, which under-counts only
// values far larger than anything worth caching in process.
package sizeof

import (
	"reflect"
	"time"
)

// maxNodes bounds the walk; maxDepth bounds the nesting it follows.
const (
	maxNodes = 1 << 16
	maxDepth = 64
)

var locationType = reflect.TypeFor[*time.Location]()

// Of estimates the bytes v holds in memory, its header included.
func Of(v any) int64 {
	if v == nil {
		return 0
	}
	rv := reflect.ValueOf(v)
	var w walker
	return int64(rv.Type().Size()) + w.indirect(rv, 0)
}

// walker counts the nodes it visits. It keeps no set of pointers seen: a
// decoded value is a tree (shared locations aside), and the node and
// depth bounds end the walk of anything else.
type walker struct{ nodes int }

// indirect is what v reaches beyond its own inline size.
func (w *walker) indirect(v reflect.Value, depth int) int64 {
	if w.nodes++; w.nodes > maxNodes || depth > maxDepth {
		return 0
	}
	switch v.Kind() {
	case reflect.String:
		return int64(v.Len())
	case reflect.Pointer:
		if v.IsNil() || v.Type() == locationType {
			return 0 // locations are shared by every time in a zone
		}
		e := v.Elem()
		return int64(e.Type().Size()) + w.indirect(e, depth+1)
	case reflect.Interface:
		if v.IsNil() {
			return 0
		}
		e := v.Elem()
		return int64(e.Type().Size()) + w.indirect(e, depth+1)
	case reflect.Slice:
		if v.IsNil() {
			return 0
		}
		n := int64(v.Cap()) * int64(v.Type().Elem().Size())
		if hasPointers(v.Type().Elem()) {
			for i := range v.Len() {
				n += w.indirect(v.Index(i), depth+1)
			}
		}
		return n
	case reflect.Array:
		var n int64
		if hasPointers(v.Type().Elem()) {
			for i := range v.Len() {
				n += w.indirect(v.Index(i), depth+1)
			}
		}
		return n
	case reflect.Map:
		if v.IsNil() {
			return 0
		}
		kt, vt := v.Type().Key(), v.Type().Elem()
		// Go's swiss tables: the slots, with about 1/8 spare, and a
		// control byte each.
		n := 48 + int64(v.Len())*(int64(kt.Size()+vt.Size())+1)*9/8
		if hasPointers(kt) || hasPointers(vt) {
			it := v.MapRange()
			for it.Next() {
				n += w.indirect(it.Key(), depth+1) + w.indirect(it.Value(), depth+1)
			}
		}
		return n
	case reflect.Struct:
		var n int64
		for i := range v.NumField() {
			if f := v.Field(i); hasPointers(f.Type()) {
				n += w.indirect(f, depth+1)
			}
		}
		return n
	}
	return 0
}

// hasPointers reports whether a value of t can reach memory beyond its own.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	case reflect.Array:
		return hasPointers(t.Elem())
	case reflect.Struct:
		for f := range t.Fields() {
			if hasPointers(f.Type) {
				return true
			}
		}
	}
	return false
}
