package tradecache

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docs/configuration.md's tables and the settings table say the same:
// every variable with its field and default, nothing more.
func TestConfigDocMatchesTheTable(t *testing.T) {
	doc, err := os.ReadFile("docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	type docRow struct{ envs, fields []string }
	rows := map[string]docRow{} // field -> its row
	defaults := map[string]string{}
	tick := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| `") && !strings.HasPrefix(line, "| (code only)") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			continue
		}
		var envs, fields []string
		for _, m := range tick.FindAllStringSubmatch(cells[1], -1) {
			envs = append(envs, m[1])
		}
		for _, m := range tick.FindAllStringSubmatch(cells[2], -1) {
			fields = append(fields, m[1])
		}
		if len(envs) > 0 && !strings.HasPrefix(envs[0], "REDIS_") && !strings.HasPrefix(envs[0], "CACHE_") {
			continue // another kind of table (namespace policy fields)
		}
		for i, f := range fields {
			r := docRow{fields: fields}
			if i < len(envs) {
				r.envs = []string{envs[i]}
			}
			rows[f] = r
			defaults[f] = strings.TrimSpace(cells[3])
		}
		for _, e := range envs {
			if !slices.ContainsFunc(settings, func(s setting) bool { return s.Env == e }) {
				t.Errorf("docs name %s, which no setting reads", e)
			}
		}
	}
	for _, s := range settings {
		r, ok := rows[s.Field]
		switch {
		case !ok:
			t.Errorf("docs/configuration.md has no row for %s (%s)", s.Field, s.Env)
		case s.Env == "" && len(r.envs) > 0, s.Env != "" && (len(r.envs) == 0 || r.envs[0] != s.Env):
			t.Errorf("docs give %s the variable %v, the table %q", s.Field, r.envs, s.Env)
		case defaults[s.Field] != s.Default:
			t.Errorf("docs give %s the default %q, the table %q", s.Field, defaults[s.Field], s.Default)
		}
	}
	for f := range rows {
		if !strings.HasPrefix(f, "Namespaces[") && !slices.ContainsFunc(settings, func(s setting) bool { return s.Field == f }) {
			t.Errorf("docs list %s, which is not in the settings table", f)
		}
	}
}

// Every field of Config and RedisConfig is a row of the table, so that
// parsing, defaults and printing cover it; Namespaces is the one exception
// (per-namespace policies, printed as a count).
func TestEveryConfigFieldIsASetting(t *testing.T) {
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for f := range typ.Fields() {
			name := prefix + f.Name
			switch {
			case name == "Namespaces":
			case f.Type == reflect.TypeFor[RedisConfig]():
				walk(name+".", f.Type)
			case !slices.ContainsFunc(settings, func(s setting) bool { return s.Field == name }):
				t.Errorf("Config.%s is not in the settings table", name)
			}
		}
	}
	walk("", reflect.TypeFor[Config]())
	seen := map[string]bool{}
	for _, s := range settings {
		if seen[s.Field] || (s.Env != "" && seen[s.Env]) {
			t.Errorf("%s/%s is in the table twice", s.Field, s.Env)
		}
		seen[s.Field], seen[s.Env] = true, s.Env != ""
		var c Config
		if f := fieldOf(&c, s.Field); !f.IsValid() {
			t.Errorf("%s names no field", s.Field)
		} else if s.at == nil || !f.CanAddr() || s.at(&c) != f.Addr().Interface() {
			t.Errorf("%s: its accessor (at) reaches another field", s.Field)
		}
	}
}

// Each printed form shows every setting, secrets redacted.
func TestStringAndLogValueShowEverySetting(t *testing.T) {
	c := Config{Redis: RedisConfig{Password: "pw-secret", SentinelPassword: "spw-secret"}}.withDefaults()
	s := c.String()
	lv := c.LogValue().String()
	for _, st := range settings {
		name := st.Field[strings.LastIndex(st.Field, ".")+1:]
		if !strings.Contains(s, st.Field+":") {
			t.Errorf("String() lacks %s: %s", st.Field, s)
		}
		if !strings.Contains(lv, snake(name)+"=") {
			t.Errorf("LogValue lacks %s: %s", snake(name), lv)
		}
	}
	if strings.Contains(s+lv, "pw-secret") {
		t.Fatalf("a password was printed: %s %s", s, lv)
	}
}

// fieldOf returns the field of *c at path ("Redis.Port").
func fieldOf(c *Config, path string) reflect.Value {
	v := reflect.ValueOf(c).Elem()
	for _, name := range strings.Split(path, ".") {
		v = v.FieldByName(name)
	}
	return v
}
