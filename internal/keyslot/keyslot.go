// Package keyslot computes Redis Cluster hash slots, so that tradecache can
// group a batch by slot before it reaches the client and name companion
// keys (a value's version key) that land in their value's slot.
//
// The algorithm is the cluster specification's: CRC16-XMODEM of the key,
// or of its hash tag, modulo 16384. A hash tag is the text between the
// first '{' and the first '}' after it, when that text is not empty.
package keyslot

import (
	"strings"
	"sync"
)

// Slots is the number of hash slots in a Redis Cluster.
const Slots = 16384

// Of returns key's hash slot.
func Of(key string) uint16 {
	if tag, ok := Tag(key); ok {
		key = tag
	}
	return crc16(key) & (Slots - 1)
}

// Tag returns key's hash tag and whether it has one.
func Tag(key string) (string, bool) {
	for i := 0; i < len(key); i++ {
		if key[i] != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j == i+1 {
					return "", false // "{}" hashes the whole key
				}
				return key[i+1 : j], true
			}
		}
		return "", false // an unclosed '{' hashes the whole key
	}
	return "", false
}

// Companion returns a key for data that a script must touch together with
// key: it begins with key followed by suffix (so that prefix-based ACL key
// patterns and SCAN MATCH cover it as they cover key), and it hashes to
// key's slot. suffix must not contain braces.
//
// A key with a hash tag keeps it: key+suffix. A key without braces gets
// the shortest tag known to hash to its slot appended, from a table built
// on first use: key+suffix+"{tag}". A key with braces that form no tag
// (a lone '{', or "{}" first) hashes whole, and nothing appended to it can
// share its slot: ok is false.
func Companion(key, suffix string) (companion string, ok bool) {
	end, ok := CompanionEnd(key)
	if !ok {
		return "", false
	}
	return key + suffix + end, true
}

// CompanionEnd returns what Companion appends after the suffix: "" for a
// key with a hash tag, "{tag}" for a key without braces. A caller that
// names several companions of one key (a stream and a version key) hashes
// the key once.
func CompanionEnd(key string) (end string, ok bool) {
	if _, ok := Tag(key); ok {
		return "", true
	}
	if strings.IndexByte(key, '{') >= 0 {
		return "", false
	}
	return "{" + tagFor(Of(key)) + "}", true
}

var (
	tagsOnce sync.Once
	tags     *[Slots]string
)

// tagFor returns a short string that hashes to slot. Every slot has one of
// at most three characters from [0-9A-Za-z]; the table takes about a
// millisecond to build and is only built when a key needs it.
func tagFor(slot uint16) string {
	tagsOnce.Do(func() {
		const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		t := new([Slots]string)
		left := Slots
		var buf [3]byte
		for n := 1; n <= 3 && left > 0; n++ {
			idx := make([]int, n)
			for {
				for i, x := range idx {
					buf[i] = alphabet[x]
				}
				s := string(buf[:n])
				if sl := crc16(s) & (Slots - 1); t[sl] == "" {
					t[sl] = s
					left--
				}
				i := n - 1
				for ; i >= 0; i-- {
					if idx[i]++; idx[i] < len(alphabet) {
						break
					}
					idx[i] = 0
				}
				if i < 0 {
					break
				}
			}
		}
		tags = t
	})
	return tags[slot]
}

// crc16 is CRC16-XMODEM (polynomial 0x1021, initial value 0), as the
// cluster specification defines it, a byte at a time from a table: the
// guard hashes every key of a cluster call, and the bitwise loop cost 4.5%
// of a cached Get's CPU.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^s[i]]
	}
	return crc
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()
