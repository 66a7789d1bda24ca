package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// This file holds the byte layouts of the two extension types; see
// docs/wire-format.md for the specification they implement.

// maxExtLen bounds an extension payload, on both sides.
const maxExtLen = 4096

var errExt = errors.New("malformed extension")

// appendDecimalExt appends the decimal extension payload: the exponent as a
// zigzag varint, then the coefficient as big-endian two's complement in the
// fewest bytes (at least one). 150.00 is exponent -2 (zigzag 3) and
// coefficient 15000: 03 3a 98.
func appendDecimalExt(dst []byte, d decimal.Decimal) []byte {
	dst = binary.AppendUvarint(dst, zigzag(int64(d.Exponent())))
	if fitsInt64(d) {
		return appendInt64BE(dst, d.CoefficientInt64())
	}
	return appendBigBE(dst, d.Coefficient())
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// appendInt64BE appends v in the fewest bytes of two's complement.
func appendInt64BE(dst []byte, v int64) []byte {
	n := 1
	for n < 8 && (v < -(1<<(8*n-1)) || v >= 1<<(8*n-1)) {
		n++
	}
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// appendBigBE appends x in the fewest bytes of two's complement.
func appendBigBE(dst []byte, x *big.Int) []byte {
	if x.Sign() >= 0 {
		b := x.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			dst = append(dst, 0)
		}
		return append(dst, b...)
	}
	// For negative x, the fewest n bytes with -2^(8n-1) <= x: the bits of
	// -x-1 (the magnitude of x's ones' complement) and a sign bit. Then
	// write 2^(8n) + x.
	m := new(big.Int).Neg(x)
	m.Sub(m, big.NewInt(1))
	n := max((m.BitLen()+1+7)/8, 1)
	y := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), uint(8*n)), x)
	b := y.Bytes()
	for len(b) < n {
		b = append([]byte{0}, b...)
	}
	return append(dst, b...)
}

// Scaled decimals: extension types 16 to 31 carry a decimal whose exponent
// is 0 to -15, the scale of nearly every price and size, as just the
// coefficient in big-endian two's complement; the exponent is
// -(type - 16). Their payloads are 1, 2, 4 or 8 bytes, so MessagePack's
// fixext headers apply: 150.00 is d5 12 3a 98, 4 bytes instead of 6.
const (
	ExtScaledDecimalMin int8 = 16
	ExtScaledDecimalMax int8 = 31
)

// scaledDecimal reports whether d takes the scaled form, and its type id
// and coefficient.
func scaledDecimal(d decimal.Decimal) (id int8, coef int64, ok bool) {
	exp := d.Exponent()
	if exp > 0 || exp < int32(ExtScaledDecimalMin-ExtScaledDecimalMax) || !fitsInt64(d) {
		return 0, 0, false
	}
	return ExtScaledDecimalMin - int8(exp), d.CoefficientInt64(), true
}

// fitsInt64 reports whether d's coefficient fits in 64 bits of two's
// complement, without copying it for the common short one.
func fitsInt64(d decimal.Decimal) bool {
	switch n := d.NumDigits(); {
	case n <= 18:
		return true
	case n == 19:
		return d.Coefficient().IsInt64()
	}
	return false
}

// maxScaledLen is the longest scaled-decimal payload a reader accepts; a
// writer uses 1, 2, 4 or 8 bytes.
const maxScaledLen = 16

// appendFixedInt appends v in the fewest of 1, 2, 4 or 8 bytes of two's
// complement, the lengths that have fixext headers.
func appendFixedInt(dst []byte, v int64) []byte {
	n := 8
	switch {
	case v >= -1<<7 && v < 1<<7:
		n = 1
	case v >= -1<<15 && v < 1<<15:
		n = 2
	case v >= -1<<31 && v < 1<<31:
		n = 4
	}
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// parseCoefficient reads a big-endian two's complement integer.
func parseCoefficient(coef []byte, exp int32) (decimal.Decimal, error) {
	switch {
	case len(coef) == 0:
		return decimal.Decimal{}, fmt.Errorf("%w: decimal without a coefficient", errExt)
	case len(coef) <= 8:
		v := int64(int8(coef[0])) // sign-extend the first byte
		for _, c := range coef[1:] {
			v = v<<8 | int64(c)
		}
		return newDecimal(v, exp), nil
	}
	x := new(big.Int).SetBytes(coef)
	if coef[0]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(coef))))
	}
	return decimal.NewFromBigInt(x, exp), nil
}

// parseScaledDecimal reads the payload of scaled-decimal type id.
func parseScaledDecimal(id int8, b []byte) (decimal.Decimal, error) {
	if len(b) > maxScaledLen {
		return decimal.Decimal{}, fmt.Errorf("%w: scaled decimal of %d bytes (at most %d)", errExt, len(b), maxScaledLen)
	}
	return parseCoefficient(b, -int32(id-ExtScaledDecimalMin))
}

// parseDecimalExt reads a decimal extension payload.
func parseDecimalExt(b []byte) (decimal.Decimal, error) {
	u, n := binary.Uvarint(b)
	if n <= 0 {
		return decimal.Decimal{}, fmt.Errorf("%w: decimal exponent is not a varint", errExt)
	}
	exp := unzigzag(u)
	if exp < -1<<31 || exp > 1<<31-1 {
		return decimal.Decimal{}, fmt.Errorf("%w: decimal exponent %d out of range", errExt, exp)
	}
	return parseCoefficient(b[n:], int32(exp))
}

// Time extension forms, in the low two bits of its first byte. A payload of
// exactly 8 bytes has no form byte: it is a UTC time in the narrow form, the
// commonest case, and fits MessagePack's fixext8 header.
const (
	timeUTC   = 0 // no offset, no zone
	timeFixed = 1 // offset only
	timeNamed = 2 // offset and IANA zone name
	timeTable = 3 // offset and a one-byte index into ZoneTable
	timeWide  = 4 // flag: 12-byte timestamp instead of 8
)

// ZoneTable lists the zones a time extension can name in one byte (form 3)
// instead of spelling the name: the zones of the major trading venues. It is
// part of wire format version 1 and never changes; another zone is sent by
// name.
var ZoneTable = [...]string{
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Toronto",
	"America/Sao_Paulo", "America/Mexico_City", "Europe/London", "Europe/Dublin", "Europe/Paris",
	"Europe/Berlin", "Europe/Zurich", "Europe/Amsterdam", "Europe/Brussels", "Europe/Madrid",
	"Europe/Rome", "Europe/Stockholm", "Europe/Oslo", "Europe/Copenhagen", "Europe/Helsinki",
	"Europe/Warsaw", "Europe/Moscow", "Europe/Istanbul", "Asia/Tokyo", "Asia/Hong_Kong",
	"Asia/Shanghai", "Asia/Singapore", "Asia/Seoul", "Asia/Kolkata", "Asia/Dubai",
	"Asia/Taipei", "Australia/Sydney", "Pacific/Auckland", "Africa/Johannesburg",
}

var zoneIndex = func() map[string]byte {
	m := make(map[string]byte, len(ZoneTable))
	for i, z := range ZoneTable {
		m[z] = byte(i)
	}
	return m
}()

// maxZoneName bounds the zone name in a time extension.
const maxZoneName = 128

// appendTimeExt appends the time extension payload: a form byte, the
// instant (8 bytes as nanoseconds<<34 | seconds when the seconds fit in 34
// unsigned bits, as MessagePack's timestamp 64 does, else 4 bytes of
// nanoseconds and 8 of seconds), then for fixed and named forms the offset
// in seconds as a zigzag varint, then for the named form the zone name.
func appendTimeExt(dst []byte, t time.Time) []byte {
	name, offset := zoneOf(t)
	form := byte(timeNamed)
	idx, inTable := zoneIndex[name]
	switch {
	case offset == 0 && (name == "" || name == "UTC"):
		form = timeUTC
	case name == "":
		form = timeFixed
	case inTable:
		form = timeTable
	}
	secs, nsec := t.Unix(), uint64(t.Nanosecond())
	if form == timeUTC && secs >= 0 && secs < 1<<34 {
		return binary.BigEndian.AppendUint64(dst, nsec<<34|uint64(secs))
	}
	if secs < 0 || secs >= 1<<34 {
		dst = append(dst, form|timeWide)
		dst = binary.BigEndian.AppendUint32(dst, uint32(nsec))
		dst = binary.BigEndian.AppendUint64(dst, uint64(secs))
	} else {
		dst = append(dst, form)
		dst = binary.BigEndian.AppendUint64(dst, nsec<<34|uint64(secs))
	}
	if form != timeUTC {
		dst = binary.AppendUvarint(dst, zigzag(int64(offset)))
	}
	switch form {
	case timeNamed:
		dst = append(dst, name...)
	case timeTable:
		dst = append(dst, idx)
	}
	return dst
}

// zoneOf returns the zone name worth sending for t ("" for Local, whose
// meaning differs between processes, and for unnamed fixed zones) and t's
// offset east of UTC in seconds.
func zoneOf(t time.Time) (string, int) {
	_, offset := t.Zone()
	loc := t.Location()
	if loc == time.Local {
		return "", offset
	}
	name := loc.String()
	if len(name) > maxZoneName {
		name = ""
	}
	return name, offset
}

// parseTimeExt reads a time extension payload. It restores the named zone
// when this process knows it and the offset agrees at that instant, and
// otherwise a fixed zone with the recorded offset (and name), so the
// instant and the offset always survive.
func parseTimeExt(b []byte) (time.Time, error) {
	if len(b) == 8 {
		x := binary.BigEndian.Uint64(b)
		if x>>34 >= 1e9 {
			return time.Time{}, fmt.Errorf("%w: %d nanoseconds", errExt, x>>34)
		}
		return time.Unix(int64(x&(1<<34-1)), int64(x>>34)).UTC(), nil
	}
	if len(b) == 0 {
		return time.Time{}, fmt.Errorf("%w: empty time", errExt)
	}
	head := b[0]
	form, wide := head&^timeWide, head&timeWide != 0
	if form > timeTable {
		return time.Time{}, fmt.Errorf("%w: time form byte 0x%02x", errExt, head)
	}
	b = b[1:]
	var secs, nsec int64
	if wide {
		if len(b) < 12 {
			return time.Time{}, fmt.Errorf("%w: truncated wide timestamp", errExt)
		}
		nsec = int64(binary.BigEndian.Uint32(b))
		secs = int64(binary.BigEndian.Uint64(b[4:]))
		b = b[12:]
	} else {
		if len(b) < 8 {
			return time.Time{}, fmt.Errorf("%w: truncated timestamp", errExt)
		}
		x := binary.BigEndian.Uint64(b)
		nsec, secs = int64(x>>34), int64(x&(1<<34-1))
		b = b[8:]
	}
	if nsec >= 1e9 {
		return time.Time{}, fmt.Errorf("%w: %d nanoseconds", errExt, nsec)
	}
	t := time.Unix(secs, nsec)
	if form == timeUTC {
		if len(b) != 0 {
			return time.Time{}, fmt.Errorf("%w: %d bytes after a UTC time", errExt, len(b))
		}
		return t.UTC(), nil
	}
	u, n := binary.Uvarint(b)
	if n <= 0 {
		return time.Time{}, fmt.Errorf("%w: time offset is not a varint", errExt)
	}
	offset := unzigzag(u)
	if offset <= -86400 || offset >= 86400 {
		return time.Time{}, fmt.Errorf("%w: offset %ds", errExt, offset)
	}
	name := b[n:]
	switch {
	case form == timeTable:
		if len(name) != 1 || int(name[0]) >= len(ZoneTable) {
			return time.Time{}, fmt.Errorf("%w: zone table entry % x", errExt, name)
		}
		if loc := tableZone(name[0]); loc != nil {
			if lt := t.In(loc); zoneOffset(lt) == int(offset) {
				return lt, nil
			}
		}
		return t.In(time.FixedZone(ZoneTable[name[0]], int(offset))), nil
	case form == timeFixed && len(name) != 0:
		return time.Time{}, fmt.Errorf("%w: zone name in a fixed-offset time", errExt)
	case form == timeNamed && (len(name) == 0 || len(name) > maxZoneName):
		return time.Time{}, fmt.Errorf("%w: zone name of %d bytes", errExt, len(name))
	case form == timeNamed && !utf8.Valid(name):
		return time.Time{}, fmt.Errorf("%w: zone name is not UTF-8", errExt)
	case form == timeNamed:
		if loc := zoneByName(name); loc != nil {
			if lt := t.In(loc); zoneOffset(lt) == int(offset) {
				return lt, nil
			}
		}
	}
	return t.In(time.FixedZone(string(name), int(offset))), nil
}

func zoneOffset(t time.Time) int { _, o := t.Zone(); return o }
