// Command tradecache-gen writes MarshalCanonical and UnmarshalCanonical
// methods for structs, so that the codec encodes and decodes them without
// reflection (codec.CanonicalMarshaler, codec.CanonicalUnmarshaler), and a
// test beside them that holds them to the reflective codec.
//
// Put a directive in the package that declares the structs:
//
//	//go:generate go run github.com/tradecache/tradecache/cmd/tradecache-gen -type Position,Order
//
// and run go generate. It writes canonical_gen.go and canonical_gen_test.go
// (-output names the first; the test is named after it).
//
// Fields may be strings, bools, integers, floats, []byte, decimal.Decimal,
// time.Time, structs of the same package (generated too) and slices of any
// of these, under a named type of the package or not. A field tagged
// tradecache:"intern" is a string that recurs across values (a symbol),
// read without allocating once seen. Field names follow the msgpack tag,
// then the json tag, as the codec's. A struct with anything else (a
// pointer, a map, an interface, omitempty, an embedded field) is refused
// with the reason: it keeps the reflective codec, which handles it.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/build"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

func main() {
	types := flag.String("type", "", "comma-separated struct names (required)")
	dir := flag.String("dir", ".", "the package's directory")
	output := flag.String("output", "canonical_gen.go", "the file to write, in -dir; the test goes beside it")
	flag.Parse()
	if *types == "" {
		fmt.Fprintln(os.Stderr, "tradecache-gen: -type is required")
		os.Exit(2)
	}
	src, test, err := generate(*dir, strings.Split(*types, ","))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tradecache-gen:", err)
		os.Exit(1)
	}
	out := filepath.Join(*dir, *output)
	if err := os.WriteFile(out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "tradecache-gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(strings.TrimSuffix(out, ".go")+"_test.go", test, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "tradecache-gen:", err)
		os.Exit(1)
	}
}

// kind is what a field's type is on the wire.
type kind int

const (
	kString kind = iota
	kBool
	kInt
	kUint
	kFloat64
	kFloat32
	kBytes
	kDecimal
	kTime
	kStruct
	kSlice
)

// typ is a resolved field type.
type typ struct {
	kind   kind
	goName string // the Go type as written (a named type, or the builtin)
	bits   int    // integers: 8, 16, 32 or 64 (int and uint are 64)
	elem   *typ   // slices
	strct  string // kStruct: the struct's name
}

type field struct {
	goName string
	wire   string
	t      *typ
	intern bool
}

type gen struct {
	pkg      string
	structs  map[string]*ast.StructType
	named    map[string]ast.Expr // other named types of the package
	fileOf   map[string]*ast.File
	order    []string
	fields   map[string][]field
	decimals map[string]int // decimals of a struct outside its slices
}

func generate(dir string, names []string) (src, test []byte, err error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	g := &gen{structs: map[string]*ast.StructType{}, named: map[string]ast.Expr{}, fileOf: map[string]*ast.File{},
		fields: map[string][]field{}, decimals: map[string]int{}}
	for _, e := range entries {
		name := e.Name()
		// The package's files for this platform and build tags, as go
		// build would take them; tests are not.
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if ok, err := build.Default.MatchFile(dir, name); err != nil || !ok {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, nil, err
		}
		if g.pkg != "" && f.Name.Name != g.pkg {
			return nil, nil, fmt.Errorf("%s holds packages %s and %s", dir, g.pkg, f.Name.Name)
		}
		g.pkg = f.Name.Name
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				g.fileOf[ts.Name.Name] = f
				if st, ok := ts.Type.(*ast.StructType); ok && ts.TypeParams == nil {
					g.structs[ts.Name.Name] = st
				} else {
					g.named[ts.Name.Name] = ts.Type
				}
			}
		}
	}
	if g.pkg == "" {
		return nil, nil, fmt.Errorf("%s holds no Go package", dir)
	}
	for _, n := range names {
		if err := g.add(strings.TrimSpace(n)); err != nil {
			return nil, nil, err
		}
	}
	for _, n := range g.order {
		g.countDecimals(n, map[string]bool{})
	}
	src, err = format.Source(g.source())
	if err != nil {
		return nil, nil, err
	}
	test, err = format.Source(g.test())
	return src, test, err
}

// add resolves struct name and the structs its fields reach.
func (g *gen) add(name string) error {
	if _, done := g.fields[name]; done {
		return nil
	}
	st, ok := g.structs[name]
	if !ok {
		return fmt.Errorf("%s is not a struct type of package %s", name, g.pkg)
	}
	g.fields[name] = nil // in progress: a recursive type refers back to it
	g.order = append(g.order, name)
	var fs []field
	for _, f := range st.Fields.List {
		if len(f.Names) == 0 {
			return fmt.Errorf("%s: embedded field %s: not generated (the reflective codec handles it)", name, exprString(f.Type))
		}
		tag := reflect.StructTag("")
		if f.Tag != nil {
			s, _ := strconv.Unquote(f.Tag.Value)
			tag = reflect.StructTag(s)
		}
		for _, id := range f.Names {
			if !id.IsExported() {
				continue // the codec skips unexported fields
			}
			if id.Name == "_msgpack" {
				return fmt.Errorf("%s: a _msgpack field changes how msgpack encodes the struct: not generated", name)
			}
			wire := id.Name
			tv, ok := tag.Lookup("msgpack")
			if !ok {
				tv, ok = tag.Lookup("json")
			}
			if ok {
				parts := strings.Split(tv, ",")
				if parts[0] == "-" && len(parts) == 1 {
					continue
				}
				if parts[0] != "" {
					wire = parts[0]
				}
				if len(parts) > 1 {
					return fmt.Errorf("%s.%s: tag options %q are not generated (the reflective codec handles them)", name, id.Name, strings.Join(parts[1:], ","))
				}
			}
			t, err := g.resolve(name, f.Type)
			if err != nil {
				return fmt.Errorf("%s.%s: %w", name, id.Name, err)
			}
			intern := tag.Get("tradecache") == "intern"
			if intern && t.kind != kString {
				return fmt.Errorf("%s.%s: tradecache:\"intern\" is for strings", name, id.Name)
			}
			fs = append(fs, field{goName: id.Name, wire: wire, t: t, intern: intern})
		}
	}
	seen := map[string]bool{}
	for _, f := range fs {
		if seen[f.wire] {
			return fmt.Errorf("%s: two fields named %q on the wire", name, f.wire)
		}
		seen[f.wire] = true
	}
	g.fields[name] = fs
	return nil
}

func (g *gen) resolve(owner string, e ast.Expr) (*typ, error) {
	switch e := e.(type) {
	case *ast.Ident:
		if t := builtin(e.Name); t != nil {
			return t, nil
		}
		if _, ok := g.structs[e.Name]; ok {
			if err := g.add(e.Name); err != nil {
				return nil, err
			}
			return &typ{kind: kStruct, goName: e.Name, strct: e.Name}, nil
		}
		if u, ok := g.named[e.Name]; ok {
			t, err := g.resolve(owner, u)
			if err != nil {
				return nil, err
			}
			if t.kind == kSlice || t.kind == kBytes {
				return nil, fmt.Errorf("named slice type %s: not generated", e.Name)
			}
			c := *t
			c.goName = e.Name
			return &c, nil
		}
		return nil, fmt.Errorf("type %s: not generated", e.Name)
	case *ast.SelectorExpr:
		pkg, ok := e.X.(*ast.Ident)
		if !ok {
			break
		}
		path := importPath(g.fileOf[owner], pkg.Name)
		switch {
		case path == "github.com/shopspring/decimal" && e.Sel.Name == "Decimal":
			return &typ{kind: kDecimal}, nil
		case path == "time" && e.Sel.Name == "Time":
			return &typ{kind: kTime}, nil
		}
	case *ast.ArrayType:
		if e.Len != nil {
			break
		}
		if id, ok := e.Elt.(*ast.Ident); ok && (id.Name == "byte" || id.Name == "uint8") {
			return &typ{kind: kBytes}, nil
		}
		el, err := g.resolve(owner, e.Elt)
		if err != nil {
			return nil, err
		}
		if el.kind == kSlice {
			return nil, fmt.Errorf("a slice of slices: not generated")
		}
		return &typ{kind: kSlice, elem: el}, nil
	}
	return nil, fmt.Errorf("type %s: not generated (the reflective codec handles it)", exprString(e))
}

func builtin(name string) *typ {
	switch name {
	case "string":
		return &typ{kind: kString, goName: name}
	case "bool":
		return &typ{kind: kBool, goName: name}
	case "int", "int64":
		return &typ{kind: kInt, goName: name, bits: 64}
	case "int8", "int16", "int32":
		b, _ := strconv.Atoi(name[3:])
		return &typ{kind: kInt, goName: name, bits: b}
	case "uint", "uint64":
		return &typ{kind: kUint, goName: name, bits: 64}
	case "uint8", "byte", "uint16", "uint32":
		b := 8
		if name != "byte" {
			b, _ = strconv.Atoi(name[4:])
		}
		return &typ{kind: kUint, goName: name, bits: b}
	case "float64":
		return &typ{kind: kFloat64, goName: name}
	case "float32":
		return &typ{kind: kFloat32, goName: name}
	}
	return nil
}

func importPath(f *ast.File, local string) string {
	if f == nil {
		return ""
	}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		if name == local {
			return p
		}
	}
	return ""
}

func exprString(e ast.Expr) string {
	var b bytes.Buffer
	_ = format.Node(&b, token.NewFileSet(), e)
	return b.String()
}

func (g *gen) countDecimals(name string, visiting map[string]bool) int {
	if n, ok := g.decimals[name]; ok {
		return n
	}
	if visiting[name] {
		return 0
	}
	visiting[name] = true
	n := 0
	for _, f := range g.fields[name] {
		switch f.t.kind {
		case kDecimal:
			n++
		case kStruct:
			n += g.countDecimals(f.t.strct, visiting)
		}
	}
	g.decimals[name] = n
	return n
}

// minSize is the fewest bytes a value of t takes on the wire.
func (g *gen) minSize(t *typ) int {
	if t.kind != kStruct {
		return 1
	}
	n := len(header(len(g.fields[t.strct]), 0x80, 0xde))
	for _, f := range g.fields[t.strct] {
		n += len(strHeader(f.wire)) + len(f.wire) + 1
	}
	return n
}

// header is a map or array header in the form Writer writes.
func header(n int, fix, wide byte) string {
	if n < 16 {
		return string([]byte{fix | byte(n)})
	}
	return string([]byte{wide, byte(n >> 8), byte(n)})
}

func strHeader(s string) string {
	if len(s) < 32 {
		return string([]byte{0xa0 | byte(len(s))})
	}
	return string([]byte{0xd9, byte(len(s))})
}

func (g *gen) source() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by tradecache-gen; DO NOT EDIT.\n\npackage %s\n\n", g.pkg)
	b.WriteString("import \"github.com/tradecache/tradecache/codec\"\n\n")
	for _, name := range g.order {
		fs := g.fields[name]
		fmt.Fprintf(&b, "// MarshalCanonical implements codec.CanonicalMarshaler: the bytes the\n// reflective encoder writes for a %s, without reflection.\n", name)
		fmt.Fprintf(&b, "func (x %s) MarshalCanonical(w *codec.Writer) { canonicalWrite%s(w, &x) }\n\n", name, name)
		fmt.Fprintf(&b, "func canonicalWrite%s(w *codec.Writer, x *%s) {\n", name, name)
		raw := header(len(fs), 0x80, 0xde)
		for _, f := range fs {
			raw += strHeader(f.wire) + f.wire
			fmt.Fprintf(&b, "w.Raw(%q)\n", raw)
			raw = ""
			g.writeValue(&b, f.t, "x."+f.goName, 0)
		}
		if raw != "" {
			fmt.Fprintf(&b, "w.Raw(%q)\n", raw)
		}
		b.WriteString("}\n\n")

		fmt.Fprintf(&b, "// UnmarshalCanonical implements codec.CanonicalUnmarshaler: it reads a\n// %s in the form MarshalCanonical writes, and reports false for\n// anything else, which the codec then decodes with reflection.\n", name)
		fmt.Fprintf(&b, "func (x *%s) UnmarshalCanonical(r *codec.Reader) bool {\nvar v %s\n", name, name)
		if n := g.decimals[name]; n > 0 {
			fmt.Fprintf(&b, "r.ReserveDecimals(%d)\n", n)
		}
		fmt.Fprintf(&b, "if !canonicalRead%s(r, &v) || !r.Finish() {\nreturn false\n}\n*x = v\nreturn true\n}\n\n", name)
		fmt.Fprintf(&b, "func canonicalRead%s(r *codec.Reader, x *%s) bool {\n", name, name)
		raw = header(len(fs), 0x80, 0xde)
		for _, f := range fs {
			raw += strHeader(f.wire) + f.wire
			fmt.Fprintf(&b, "if !r.Expect(%q) {\nreturn false\n}\n", raw)
			raw = ""
			g.readValue(&b, f.t, "x."+f.goName, f.intern, 0)
		}
		if raw != "" {
			fmt.Fprintf(&b, "if !r.Expect(%q) {\nreturn false\n}\n", raw)
		}
		b.WriteString("return r.Ok()\n}\n\n")
	}
	return b.Bytes()
}

// scalars is each scalar kind's Writer call and Reader call: one table,
// so that a kind is added in one place.
var scalars = map[kind]struct{ write, read string }{
	kString:  {"w.String(string(%s))", "r.String()"},
	kBool:    {"w.Bool(bool(%s))", "r.Bool()"},
	kInt:     {"w.Int(int64(%s))", "r.Int()"},
	kUint:    {"w.Uint(uint64(%s))", "r.Uint()"},
	kFloat64: {"w.Float64(float64(%s))", "r.Float64()"},
	kFloat32: {"w.Float32(float32(%s))", "r.Float32()"},
	kBytes:   {"w.Bytes(%s)", "r.Bytes()"},
	kDecimal: {"w.Decimal(%s)", "r.Decimal()"},
	kTime:    {"w.Time(%s)", "r.Time()"},
}

func (g *gen) writeValue(b *bytes.Buffer, t *typ, x string, depth int) {
	if sc, ok := scalars[t.kind]; ok {
		fmt.Fprintf(b, sc.write+"\n", x)
		return
	}
	switch t.kind {
	case kStruct:
		fmt.Fprintf(b, "canonicalWrite%s(w, &%s)\n", t.strct, x)
	case kSlice:
		i := fmt.Sprintf("i%d", depth)
		fmt.Fprintf(b, "if %s == nil {\nw.Nil()\n} else {\nw.ArrayHeader(len(%s))\nfor %s := range %s {\n", x, x, i, x)
		g.writeValue(b, t.elem, x+"["+i+"]", depth+1)
		b.WriteString("}\n}\n")
	}
}

func (g *gen) readValue(b *bytes.Buffer, t *typ, x string, intern bool, depth int) {
	conv := func(call string) string {
		if t.goName == "" || t.goName == "string" || t.goName == "bool" || t.goName == "float64" || t.goName == "float32" {
			return call
		}
		return t.goName + "(" + call + ")"
	}
	switch t.kind {
	case kString:
		read := "r.String()"
		if intern {
			read = "r.Symbol()"
		}
		fmt.Fprintf(b, "%s = %s\n", x, conv(read))
	case kInt, kUint:
		get, lo, hi := scalars[t.kind].read, fmt.Sprintf("-1 << %d", t.bits-1), fmt.Sprintf("1<<%d - 1", t.bits-1)
		if t.kind == kUint {
			lo, hi = "", fmt.Sprintf("1<<%d - 1", t.bits)
		}
		if t.bits == 64 {
			fmt.Fprintf(b, "%s = %s(%s)\n", x, t.goName, get)
			return
		}
		// Out of the field's range: the reflective decoder's business.
		cond := "n > " + hi
		if lo != "" {
			cond = "n < " + lo + " || " + cond
		}
		fmt.Fprintf(b, "if n := %s; %s {\nreturn false\n} else {\n%s = %s(n)\n}\n", get, cond, x, t.goName)
	case kBool, kFloat64, kFloat32:
		fmt.Fprintf(b, "%s = %s\n", x, conv(scalars[t.kind].read))
	case kBytes, kDecimal, kTime:
		fmt.Fprintf(b, "%s = %s\n", x, scalars[t.kind].read)
	case kStruct:
		fmt.Fprintf(b, "if !r.Enter() || !canonicalRead%s(r, &%s) {\nreturn false\n}\nr.Leave()\n", t.strct, x)
	case kSlice:
		n, i := fmt.Sprintf("n%d", depth), fmt.Sprintf("i%d", depth)
		fmt.Fprintf(b, "if %s := r.ArrayHeader(%d); %s >= 0 {\n", n, g.minSize(t.elem), n)
		fmt.Fprintf(b, "%s = make(%s, %s)\n", x, g.goType(t), n)
		if t.elem.kind == kDecimal {
			fmt.Fprintf(b, "r.ReserveDecimals(%s)\n", n)
		} else if t.elem.kind == kStruct && g.decimals[t.elem.strct] > 0 {
			fmt.Fprintf(b, "r.ReserveDecimals(%s * %d)\n", n, g.decimals[t.elem.strct])
		}
		fmt.Fprintf(b, "for %s := range %s {\n", i, x)
		g.readValue(b, t.elem, x+"["+i+"]", intern, depth+1)
		b.WriteString("}\n} else if !r.Ok() {\nreturn false\n}\n")
	}
}

func (g *gen) goType(t *typ) string {
	switch t.kind {
	case kSlice:
		return "[]" + g.goType(t.elem)
	case kBytes:
		return "[]byte"
	case kDecimal:
		return "decimal.Decimal"
	case kTime:
		return "time.Time"
	case kStruct:
		return t.strct
	}
	return t.goName
}

func (g *gen) test() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by tradecache-gen; DO NOT EDIT.\n\npackage %s\n\n", g.pkg)
	b.WriteString("import (\n\"testing\"\n\n\"github.com/tradecache/tradecache/codec/codectest\"\n)\n\n")
	names := append([]string(nil), g.order...)
	sort.Strings(names)
	b.WriteString("// TestCanonicalMethods holds the generated methods to the reflective\n// codec: the same bytes for random values, and for those bytes mutated,\n// the same value or the same error.\nfunc TestCanonicalMethods(t *testing.T) {\n")
	for _, n := range names {
		fmt.Fprintf(&b, "t.Run(%q, func(t *testing.T) { codectest.Canonical[%s](t, 500) })\n", n, n)
	}
	b.WriteString("}\n")
	return b.Bytes()
}
