package tradecache

import (
	"github.com/tradecache/tradecache/internal/names"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// maxNameLength bounds prefixes and namespace names.
const maxNameLength = names.MaxLength

// checkName validates a key prefix or namespace name and returns why it is
// bad, or "" (names.Check: 1 to 64 of [A-Za-z0-9_.-]).
func checkName(s string) string { return names.Check(s) }

// checkKey validates a caller's key and returns why it is bad, or "".
func checkKey(k string, maxLen int) string {
	if k == "" {
		return "empty"
	}
	if len(k) > maxLen {
		return "longer than " + strconv.Itoa(maxLen) + " bytes (" + strconv.Itoa(len(k)) + ")"
	}
	// The common case is short printable ASCII; check it without decoding.
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c == 0x7f {
			return "contains whitespace or a control character at byte " + strconv.Itoa(i)
		}
		if c >= utf8.RuneSelf {
			return checkUnicodeKey(k)
		}
	}
	return ""
}

func checkUnicodeKey(k string) string {
	for i, r := range k {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(k[i:]); size == 1 {
				return "not valid UTF-8 at byte " + strconv.Itoa(i)
			}
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "contains whitespace or a control character at byte " + strconv.Itoa(i)
		}
	}
	return ""
}
