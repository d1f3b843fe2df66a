package idl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/esm-dev/esm/internal/diag"
)

// maxErrors bounds the diagnostics of one run, so that a hopeless input
// (a binary file, say) does not produce thousands of lines.
const maxErrors = 50

// loader holds the state shared by a file and everything it imports: the
// named types (one namespace for all files, as in the reference), the
// files already read, and the diagnostics.
type loader struct {
	opts  Options
	diags diag.List
	nerr  int

	types []*Schema
	names map[string]*Schema
	refs  []*Schema // forward references to resolve at the end

	protocols []*Protocol // every protocol read, for reference resolution

	mem      arena
	decimals map[[2]int64]*Schema // decimal(p,s) schemas are shared

	read  map[string]bool // files read or being read, by cleaned path
	stack []string        // the chain of imports being read, for cycle detection
	files []string
}

func newLoader(opts Options) *loader {
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	return &loader{opts: opts, names: make(map[string]*Schema), read: make(map[string]bool)}
}

func (l *loader) errorf(r diag.Range, format string, args ...any) {
	l.nerr++
	if l.nerr > maxErrors {
		return
	}
	if l.nerr == maxErrors {
		l.diags.Add(diag.Error, r.Pos(), r.EndPos(), "too many errors")
		return
	}
	l.diags.Add(diag.Error, r.Pos(), r.EndPos(), format, args...)
}

func (l *loader) warnf(r diag.Range, format string, args ...any) {
	l.diags.Add(diag.Warning, r.Pos(), r.EndPos(), format, args...)
}

// define adds a named type; a second definition of a name is an error.
func (l *loader) define(s *Schema) {
	full := s.FullName()
	if prev, ok := l.names[full]; ok {
		r := s.NameRange
		if r.File == nil {
			r = s.Range
		}
		l.errorf(r, "duplicate name %s: already defined at %s", full, prev.NameRange.Pos())
		return
	}
	l.names[full] = s
	l.types = append(l.types, s)
}

// lookup returns the named type full, or a reference node to resolve once
// every file is read.
func (l *loader) lookup(full, fallback string, r diag.Range) *Schema {
	if s, ok := l.names[full]; ok {
		return s
	}
	ref := &Schema{Kind: Ref, refName: full, Range: r, Name: fallback}
	l.refs = append(l.refs, ref)
	return ref
}

// ParseFile reads an IDL file and everything it imports. Relative imports
// are looked up next to the importing file, then in opts.ImportPaths. The
// error, if any, is a diag.List holding every problem found.
func ParseFile(path string, opts Options) (*Result, error) {
	return load(path, opts, ".avdl")
}

// LoadFile reads an IDL (.avdl), schema (.avsc) or protocol (.avpr) file,
// chosen by the file name's extension, with everything it imports.
func LoadFile(path string, opts Options) (*Result, error) {
	return load(path, opts, strings.ToLower(filepath.Ext(path)))
}

// Parse parses IDL source held in memory; filename is used in positions
// and to resolve relative imports.
func Parse(filename string, src []byte, opts Options) (*Result, error) {
	l := newLoader(opts)
	key := filepath.Clean(filename)
	l.read[key] = true
	l.stack = append(l.stack, key)
	l.files = append(l.files, filename)
	res := &Result{}
	l.parseIDL(filename, src, res)
	return l.finish(res)
}

func load(path string, opts Options, ext string) (*Result, error) {
	l := newLoader(opts)
	src, err := l.opts.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, unwrapPathError(err))
	}
	key := filepath.Clean(path)
	l.read[key] = true
	l.stack = append(l.stack, key)
	l.files = append(l.files, path)
	res := &Result{}
	switch ext {
	case ".avsc":
		res.Kind = KindSchema
		res.Main = l.parseSchemaJSON(path, src)
	case ".avpr":
		res.Kind = KindProtocol
		res.Protocol = l.parseProtocolJSON(path, src)
	default:
		l.parseIDL(path, src, res)
	}
	return l.finish(res)
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// finish resolves forward references, checks what can only be checked on
// the whole graph, and assembles the result.
func (l *loader) finish(res *Result) (*Result, error) {
	l.resolve()
	l.check()
	res.Types = l.types
	res.Files = l.files
	if res.Protocol != nil {
		res.Protocol.Types = l.types
	}
	if res.Main != nil {
		res.Main = l.target(res.Main)
	}
	l.diags.Sort()
	res.Warnings = l.diags.Warnings()
	if errs := l.diags.Errors(); len(errs) > 0 {
		return res, errs
	}
	return res, nil
}

// importFile reads the file an import statement names, relative to dir
// and then to each import path, and parses it into the shared state.
// protocol is the importing file's protocol, nil in schema mode.
func (l *loader) importFile(kind keyword, name string, dir string, at diag.Range, protocol *Protocol) {
	var candidates []string
	if filepath.IsAbs(name) {
		candidates = []string{name}
	} else {
		candidates = append(candidates, filepath.Join(dir, name))
		for _, p := range l.opts.ImportPaths {
			candidates = append(candidates, filepath.Join(p, name))
		}
	}
	var (
		path string
		src  []byte
	)
	for _, c := range candidates {
		key := filepath.Clean(c)
		if l.read[key] {
			for i, s := range l.stack {
				if s == key {
					chain := append(append([]string{}, l.stack[i:]...), key)
					for j := range chain {
						chain[j] = filepath.Base(chain[j])
					}
					l.errorf(at, "import cycle: %s", strings.Join(chain, " imports "))
					return
				}
			}
			return // already imported: each file is read once
		}
		b, err := l.opts.ReadFile(c)
		if err == nil {
			path, src = c, b
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			l.errorf(at, "import %q: %v", name, unwrapPathError(err))
			return
		}
	}
	if path == "" {
		where := []string{dir}
		if filepath.IsAbs(name) {
			where = []string{filepath.Dir(name)}
		} else {
			where = append(where, l.opts.ImportPaths...)
		}
		l.errorf(at, "import %q: file not found (looked in %s)", name, strings.Join(where, ", "))
		return
	}
	key := filepath.Clean(path)
	l.read[key] = true
	l.files = append(l.files, path)
	l.stack = append(l.stack, key)
	defer func() { l.stack = l.stack[:len(l.stack)-1] }()

	switch kind {
	case kwIDL:
		sub := &Result{}
		l.parseIDL(path, src, sub)
		if sub.Protocol != nil && protocol != nil {
			for _, m := range sub.Protocol.Messages {
				protocol.addMessage(m)
			}
		}
	case kwProtocol:
		p := l.parseProtocolJSON(path, src)
		if p != nil && protocol != nil {
			for _, m := range p.Messages {
				protocol.addMessage(m)
			}
		}
	case kwSchema:
		l.parseSchemaJSON(path, src)
	}
}

// addMessage adds m, replacing a message of the same name in place, as
// the reference's map does for imported messages.
func (p *Protocol) addMessage(m *Message) {
	for i, old := range p.Messages {
		if old.Name == m.Name {
			p.Messages[i] = m
			return
		}
	}
	p.Messages = append(p.Messages, m)
}
