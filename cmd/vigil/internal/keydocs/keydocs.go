// Package keydocs extracts each configuration key's documentation from the
// doc comments of the configuration structs, for `vigil run --help`. It
// reads the source (go/parser), starting at config.Config and following
// the koanf-tagged fields into every package's Config struct.
package keydocs

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// modulePath is the module's import path; packages under it are read from
// the source tree.
const modulePath = "github.com/vigil-redis/vigil"

// pkg is one parsed package: its type declarations and each file's imports.
type pkg struct {
	types   map[string]*ast.TypeSpec
	imports map[*ast.TypeSpec]map[string]string // name -> import path, per declaring file
}

type loader struct {
	root string
	fset *token.FileSet
	pkgs map[string]*pkg
}

func (l *loader) load(importPath string) (*pkg, error) {
	if p, ok := l.pkgs[importPath]; ok {
		return p, nil
	}
	rel, ok := strings.CutPrefix(importPath, modulePath)
	if !ok {
		return nil, nil // outside the module: a leaf type
	}
	dir := filepath.Join(l.root, filepath.FromSlash(strings.TrimPrefix(rel, "/")))
	matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	p := &pkg{types: map[string]*ast.TypeSpec{}, imports: map[*ast.TypeSpec]map[string]string{}}
	for _, m := range matches {
		if strings.HasSuffix(m, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(l.fset, m, nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("keydocs: %w", err)
		}
		imps := map[string]string{}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			name := path[strings.LastIndex(path, "/")+1:]
			if im.Name != nil {
				name = im.Name.Name
			}
			imps[name] = path
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				p.types[ts.Name.Name] = ts
				p.imports[ts] = imps
			}
		}
	}
	l.pkgs[importPath] = p
	return p, nil
}

// Keys returns every configuration key and its documentation, read from
// the source tree rooted at root (the module's directory).
func Keys(root string) (map[string]string, error) {
	l := &loader{root: root, fset: token.NewFileSet(), pkgs: map[string]*pkg{}}
	out := map[string]string{}
	if err := l.walk(modulePath+"/config", "Config", "", out); err != nil {
		return nil, err
	}
	return out, nil
}

func (l *loader) walk(importPath, typeName, prefix string, out map[string]string) error {
	p, err := l.load(importPath)
	if err != nil {
		return err
	}
	ts := p.types[typeName]
	if ts == nil {
		return fmt.Errorf("keydocs: type %s.%s not found", importPath, typeName)
	}
	st, ok := ts.Type.(*ast.StructType)
	if !ok {
		return fmt.Errorf("keydocs: %s.%s is not a struct", importPath, typeName)
	}
	for _, f := range st.Fields.List {
		if f.Tag == nil || len(f.Names) == 0 || !f.Names[0].IsExported() {
			continue
		}
		tagText, _ := strconv.Unquote(f.Tag.Value)
		tag := reflect.StructTag(tagText).Get("koanf")
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		if tag == ",squash" {
			// An embedded package's keys live at this level (koanf
			// ",squash"), as config.fields walks them.
			key = prefix
		}
		if ip, name, ok := l.structType(importPath, p, ts, f.Type); ok {
			if err := l.walk(ip, name, key, out); err != nil {
				return err
			}
			continue
		}
		doc := f.Doc.Text()
		if doc == "" {
			doc = f.Comment.Text()
		}
		out[key] = tidy(f.Names[0].Name, key, strings.Join(strings.Fields(doc), " "))
	}
	return nil
}

// tidy drops the Go field name a doc comment starts with ("Cooldown is how
// long ..." becomes "How long ..."), or replaces it with the key, so the
// help text speaks of the key rather than the struct field.
func tidy(field, key, doc string) string {
	for _, verb := range []string{" is ", " are "} {
		if rest, ok := strings.CutPrefix(doc, field+verb); ok && rest != "" {
			return strings.ToUpper(rest[:1]) + rest[1:]
		}
	}
	if rest, ok := strings.CutPrefix(doc, field+" "); ok {
		return key + " " + rest
	}
	if rest, ok := strings.CutPrefix(doc, field+", "); ok {
		return key + ", " + rest
	}
	return doc
}

// structType resolves a field's type to a struct declared in the module.
func (l *loader) structType(importPath string, p *pkg, owner *ast.TypeSpec, e ast.Expr) (string, string, bool) {
	ip, name := importPath, ""
	switch t := e.(type) {
	case *ast.Ident:
		name = t.Name
	case *ast.SelectorExpr:
		x, ok := t.X.(*ast.Ident)
		if !ok {
			return "", "", false
		}
		ip, name = p.imports[owner][x.Name], t.Sel.Name
	default:
		return "", "", false
	}
	q, err := l.load(ip)
	if err != nil || q == nil {
		return "", "", false
	}
	ts := q.types[name]
	if ts == nil {
		return "", "", false
	}
	_, isStruct := ts.Type.(*ast.StructType)
	return ip, name, isStruct
}

// Generate renders the Go file holding keyDocs for package main.
func Generate(root string) ([]byte, error) {
	keys, err := Keys(root)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	var b bytes.Buffer
	b.WriteString("// Code generated by gen_keydocs.go from the configuration structs' doc comments; DO NOT EDIT.\n\n")
	b.WriteString("package main\n\n")
	b.WriteString("// keyDocs documents each configuration key, from its struct field's doc comment.\n")
	b.WriteString("var keyDocs = map[string]string{\n")
	for _, k := range names {
		fmt.Fprintf(&b, "\t%q: %q,\n", k, keys[k])
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}
