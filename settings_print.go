package tradecache

import (
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tradecache/tradecache/codec"
)

// show prints a row's value of c, a secret redacted.
func (s setting) show(c *Config) string {
	v := s.field(c)
	switch {
	case s.format != nil:
		return s.format(v)
	case s.Secret:
		if v.IsZero() {
			return `""`
		}
		return strconv.Quote(redacted)
	case v.Type() == boolPtrType:
		return fmtBool(v.Interface().(*bool))
	case v.Kind() == reflect.String:
		return strconv.Quote(v.String())
	case v.Kind() == reflect.Slice:
		return fmt.Sprintf("%q", v.Interface())
	}
	return fmt.Sprint(v.Interface())
}

// String describes the configuration, every setting of the table, with
// secrets redacted. It also serves %v and %+v.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("Config{")
	for i, s := range settings {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.Field)
		b.WriteByte(':')
		b.WriteString(s.show(&c))
	}
	fmt.Fprintf(&b, " Namespaces:%d}", len(c.Namespaces))
	return b.String()
}

// GoString serves %#v, with secrets redacted.
func (c Config) GoString() string { return "tradecache." + c.String() }

// String describes the Redis settings with secrets redacted.
func (r RedisConfig) String() string {
	c := Config{Redis: r}
	var b strings.Builder
	b.WriteByte('{')
	for _, s := range settings {
		name, ok := strings.CutPrefix(s.Field, "Redis.")
		if !ok {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(' ')
		}
		b.WriteString(name + ":" + s.show(&c))
	}
	b.WriteByte('}')
	return b.String()
}

// GoString serves %#v, with secrets redacted.
func (r RedisConfig) GoString() string { return "tradecache.RedisConfig" + r.String() }

// LogValue makes slog print every setting, in snake_case groups, with
// secrets redacted.
func (c Config) LogValue() slog.Value {
	var top, redis []slog.Attr
	for _, s := range settings {
		name, inRedis := strings.CutPrefix(s.Field, "Redis.")
		a := slog.String(snake(name), strings.Trim(s.show(&c), `"`))
		if inRedis {
			redis = append(redis, a)
		} else {
			top = append(top, a)
		}
	}
	top = append(top, slog.Attr{Key: "redis", Value: slog.GroupValue(redis...)})
	return slog.GroupValue(top...)
}

// snake turns a Go field name into snake_case: MaxTTL → max_ttl.
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// value is a row's value of c as a FieldError shows it: durations in
// seconds, as the variables take them, and secrets redacted.
func (s setting) value(c *Config) string {
	v := s.field(c)
	switch {
	case s.Secret:
		return redacted
	case s.Field == "Redis.URL":
		return redactURL(v.String())
	case v.Type() == durationType:
		return formatSeconds(time.Duration(v.Int()))
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		return strings.Join(v.Interface().([]string), ",")
	}
	return fmt.Sprint(v.Interface())
}

const redacted = "[REDACTED]"

func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// redactURL is raw with its password hidden, however it parses: whatever
// stands before the last '@' (after "scheme://", if there is one) is user
// information, and all of it after the first ':' is replaced. url.Parse
// alone is not enough: without a scheme ("app:pw@host:6379") it reads
// "app" as the scheme and the password as opaque text, which Redacted
// leaves alone, and a '#' or '/' in an unencoded password ends the
// authority early. A part without ':' is hidden whole, since it may be a
// password given alone. Query parameters naming a password are hidden too.
func redactURL(raw string) string {
	s := raw
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		start := 0
		if i := strings.Index(s, "://"); i >= 0 && i < at {
			start = i + 3
		}
		user, hidden := s[start:at], "xxxxx"
		if c := strings.IndexByte(user, ':'); c >= 0 {
			hidden = user[:c] + ":xxxxx"
		}
		s = s[:start] + hidden + s[at:]
	}
	u, err := url.Parse(s)
	if err != nil {
		if s != raw || strings.Contains(strings.ToLower(s), "pass") {
			// Unparsable: it may still hold a password, so show only its length.
			return fmt.Sprintf("[unparsable URL, %d bytes]", len(raw))
		}
		return raw // no user information, no password parameter: "127.0.0.1:6379"
	}
	// A password can also stand in the query (?password=, which the client
	// ignores but a person may try): redact any parameter that names one.
	if q := u.Query(); len(q) > 0 {
		changed := false
		for k := range q {
			if strings.Contains(strings.ToLower(k), "pass") {
				q.Set(k, "xxxxx")
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return s
}

// keyIDs lists key ids only: secrets are never printed.
func keyIDs(keys []codec.Key) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return "[" + strings.Join(ids, " ") + "]"
}

func fmtBool(b *bool) string {
	if b == nil {
		return "default"
	}
	return strconv.FormatBool(*b)
}
