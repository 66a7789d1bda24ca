// Package names holds the grammar of key prefixes and namespace names,
// which the cache and the published figures' reader both hold names to.
package names

import "strconv"

// MaxLength bounds prefixes and namespace names.
const MaxLength = 64

// Check validates a key prefix or namespace name and returns why it is
// bad, or "". Names are 1 to 64 of [A-Za-z0-9_.-]: no colon, so the first
// two colons of a stored key always delimit prefix and namespace, and no
// glob characters, so a SCAN MATCH pattern built from them matches only
// themselves.
func Check(s string) string {
	if s == "" {
		return "empty"
	}
	if len(s) > MaxLength {
		return "longer than " + strconv.Itoa(MaxLength) + " bytes"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return "has " + strconv.QuoteRune(rune(c)) + "; only letters, digits, '_', '.' and '-' are allowed"
		}
	}
	return ""
}
