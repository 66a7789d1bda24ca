package codec

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// payloadReader is the reader the msgpack decoder reads envelopes from.
// Besides the io.ByteScanner msgpack needs, it hands out sub-slices of the
// payload (next), so the extension decoders read decimals and times without
// copying or allocating.
type payloadReader struct {
	b []byte
	i int
	// vectors is set when a vector was decoded into an interface, as a
	// pointer (see vector.go): the codec then makes it a value.
	vectors bool
}

func (r *payloadReader) reset(b []byte) { r.b, r.i, r.vectors = b, 0, false }

func (r *payloadReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

func (r *payloadReader) ReadByte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	c := r.b[r.i]
	r.i++
	return c, nil
}

func (r *payloadReader) UnreadByte() error {
	if r.i == 0 {
		return errors.New("codec: UnreadByte at the start of the payload")
	}
	r.i--
	return nil
}

// next returns the next n bytes of the payload without copying.
func (r *payloadReader) next(n int) ([]byte, bool) {
	if n < 0 || len(r.b)-r.i < n {
		return nil, false
	}
	s := r.b[r.i : r.i+n : r.i+n]
	r.i += n
	return s, true
}

// zoneCache maps IANA zone names to locations without allocating on a hit:
// indexing a map with string(bytes) does not copy. It is copied on write,
// which happens once per zone name, and holds at most maxZones names so
// that crafted input cannot grow it.
var (
	zoneCache   atomic.Pointer[map[string]*time.Location]
	zoneCacheMu sync.Mutex
)

const maxZones = 512

func zoneByName(name []byte) *time.Location {
	if m := zoneCache.Load(); m != nil {
		if loc, ok := (*m)[string(name)]; ok {
			return loc
		}
	}
	return loadZone(string(name))
}

// tableZones caches the locations of ZoneTable, loaded on first use.
var tableZones [len(ZoneTable)]atomic.Pointer[time.Location]

// tableZone returns ZoneTable[i]'s location, or nil if this process's zone
// database lacks it.
func tableZone(i byte) *time.Location {
	if loc := tableZones[i].Load(); loc != nil {
		return loc
	}
	loc := loadZone(ZoneTable[i])
	if loc != nil {
		tableZones[i].Store(loc)
	}
	return loc
}

func loadZone(s string) *time.Location {
	loc, err := time.LoadLocation(s)
	if err != nil {
		loc = nil
	}
	zoneCacheMu.Lock()
	defer zoneCacheMu.Unlock()
	old := zoneCache.Load()
	n := 0
	if old != nil {
		n = len(*old)
	}
	if n >= maxZones {
		return loc
	}
	m := make(map[string]*time.Location, n+1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[s] = loc
	zoneCache.Store(&m)
	return loc
}
