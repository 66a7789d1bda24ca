package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The committed trading/canonical_gen.go is what the generator writes
// now: a change to the generator or to trading's types that was not
// followed by go generate fails here.
func TestTradingIsGenerated(t *testing.T) {
	src, test, err := generate("../../trading", []string{"Quote", "Trade", "Bar", "Book"})
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]byte{"canonical_gen.go": src, "canonical_gen_test.go": test} {
		got, err := os.ReadFile(filepath.Join("../../trading", file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("trading/%s is stale: run go generate ./trading", file)
		}
	}
}

// A struct the generated code cannot hold to the reflective codec's bytes
// is refused with the field and the reason, and nothing is written.
func TestRefusesWhatItCannotGenerate(t *testing.T) {
	for _, tc := range []struct{ decl, want string }{
		{"type T struct{ P *int }", "T.P: type *int: not generated"},
		{"type T struct{ M map[string]int }", "T.M: type map[string]int: not generated"},
		{"type T struct{ A any }", "T.A: type any: not generated"},
		{"type T struct{ N int `json:\"n,omitempty\"`}", `T.N: tag options "omitempty"`},
		{"type E struct{ X int }\ntype T struct{ E }", "T: embedded field E"},
		{"type T struct{ S int `tradecache:\"intern\"` }", `T.S: tradecache:"intern" is for strings`},
		{"type T struct{ A int `json:\"x\"`; B int `json:\"x\"` }", `T: two fields named "x"`},
		{"type T struct{ G [][]int }", "a slice of slices"},
		{"type U int\ntype T struct{ X U }\ntype V struct{ T }", ""},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte("package p\n"+tc.decl+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := generate(dir, []string{"T"})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.decl, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one naming %q", tc.decl, err, tc.want)
		}
	}
}
