package idl

import (
	"bytes"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/esm-dev/esm/internal/diag"
)

// parser is a recursive-descent parser for one IDL file, after go/parser:
// one token of lookahead, errors collected rather than returned, and
// synchronisation at declaration boundaries so that one mistake does not
// hide the next.
type parser struct {
	l    *loader
	file *diag.File
	dir  string
	sc   scanner

	// current token
	tok        token
	kw         keyword
	start, end int
	idx        int // token index, matching docComment.before
	prevEnd    int // end of the previous token

	lastErrLine int
	docDone     int // sc.docs[:docDone] are attached or reported

	namespaces []string // namespace stack; "" is the null namespace
	protocol   *Protocol
	res        *Result
}

var newline = []byte{'\n'}

// parseIDL parses one IDL file into res, adding its named types to the
// loader's shared state.
func (l *loader) parseIDL(path string, src []byte, res *Result) {
	p := &parser{l: l, file: diag.NewFile(path), dir: filepath.Dir(path), res: res}
	p.file.Grow(bytes.Count(src, newline))
	p.sc.init(p.file, string(src), p.scanError)
	p.next()
	p.parseFile()
}

func (p *parser) scanError(start, end int, msg string) {
	p.errorAt(start, end, msg)
}

func (p *parser) rng(start, end int) diag.Range {
	return diag.Range{File: p.file, Start: start, End: end}
}

// errorAt reports a syntax error; like go/parser it keeps only the first
// error of a line, which is almost always the one that matters.
func (p *parser) errorAt(start, end int, msg string) {
	line := p.file.Position(start).Line
	if line == p.lastErrLine {
		return
	}
	p.lastErrLine = line
	p.l.errorf(p.rng(start, end), "%s", msg)
}

// semErr reports a semantic error: never deduplicated by line.
func (p *parser) semErr(start, end int, format string, args ...any) {
	p.l.errorf(p.rng(start, end), format, args...)
}

func (p *parser) next() {
	p.prevEnd = p.end
	if p.l.nerr >= maxErrors {
		p.tok, p.kw, p.start, p.end = tEOF, kwNone, len(p.sc.src), len(p.sc.src)
		return
	}
	p.tok, p.kw, p.start, p.end = p.sc.next()
	p.idx = p.sc.index
}

func (p *parser) text() string { return p.sc.src[p.start:p.end] }

// describe names the current token for an error message.
func (p *parser) describe() string {
	switch p.tok {
	case tEOF:
		return "end of file"
	case tIdent:
		if p.kw != kwNone {
			return "keyword " + p.text()
		}
		return "identifier " + p.text()
	case tString, tInt, tFloat:
		t := p.text()
		if len(t) > 40 {
			t = t[:37] + "..."
		}
		return t
	case tIllegal:
		return "illegal character"
	}
	return p.tok.String()
}

func (p *parser) errorExpected(what string) {
	p.errorAt(p.start, p.end, "expected "+what+", found "+p.describe())
}

// expect consumes a token of kind t or reports an error.
func (p *parser) expect(t token) bool {
	if p.tok != t {
		p.errorExpected(t.String())
		return false
	}
	p.next()
	return true
}

func (p *parser) isKw(kw keyword) bool { return p.tok == tIdent && p.kw == kw }

// currentNamespace returns the namespace in force ("" for none).
func (p *parser) currentNamespace() string {
	if n := len(p.namespaces); n > 0 {
		return p.namespaces[n-1]
	}
	return ""
}

// ---------------------------------------------------------------------------
// Doc comments

// docFor returns the doc comment of a construct starting at token index
// idx: the last /** */ comment directly before that token. Doc comments
// passed over since the previous call are reported as out of place, as the
// reference does.
func (p *parser) docFor(idx int) string {
	docs := p.sc.docs
	chosen := -1
	i := p.docDone
	for ; i < len(docs) && docs[i].before <= idx; i++ {
		if docs[i].before == idx {
			chosen = i
		}
	}
	for j := p.docDone; j < i; j++ {
		if j != chosen {
			r := p.rng(docs[j].start, docs[j].end)
			p.l.warnf(r, "ignoring out-of-place documentation comment; did you mean to use a multiline comment ( /* ... */ ) instead?")
		}
	}
	p.docDone = i
	if chosen < 0 {
		return ""
	}
	d := docs[chosen]
	return stripIndents(strings.TrimSpace(p.sc.src[d.start+3 : d.end-2]))
}

// ---------------------------------------------------------------------------
// Synchronisation

// syncDecl skips to the start of the next declaration or the end of the
// current block, so that parsing can resume after an error.
func (p *parser) syncDecl() {
	depth := 0
	for p.tok != tEOF {
		switch p.tok {
		case tLBrace, tLParen, tLBracket:
			depth++
		case tRBrace, tRParen, tRBracket:
			if depth == 0 {
				return
			}
			depth--
			if depth == 0 && p.tok == tRBrace {
				p.next()
				return
			}
		case tSemicolon:
			if depth == 0 {
				p.next()
				return
			}
		case tAt:
			if depth == 0 {
				return
			}
		case tIdent:
			if depth == 0 {
				switch p.kw {
				case kwRecord, kwError, kwEnum, kwFixed, kwImport:
					return
				}
			}
		}
		p.next()
	}
}

// syncField skips to the end of a field (or the record's closing brace).
func (p *parser) syncField() {
	depth := 0
	for p.tok != tEOF {
		switch p.tok {
		case tLBrace, tLParen, tLBracket, tLT:
			depth++
		case tRBrace, tRParen, tRBracket, tGT:
			if depth == 0 && p.tok == tRBrace {
				return
			}
			if depth > 0 {
				depth--
			}
		case tSemicolon:
			if depth == 0 {
				p.next()
				return
			}
		}
		p.next()
	}
}

// ---------------------------------------------------------------------------
// Files

func (p *parser) parseFile() {
	startIdx := p.idx
	start := p.start
	props := p.parseProps()
	if p.isKw(kwProtocol) {
		p.parseProtocol(props, startIdx, start)
		if p.tok != tEOF {
			p.errorExpected("end of file after the protocol")
		}
		return
	}
	p.parseSchemaFile(props, startIdx, start)
}

// parseProtocol parses `protocol Name { ... }`.
func (p *parser) parseProtocol(props []Prop, startIdx, start int) {
	p.next() // protocol
	nameStart := p.start
	id, ok := p.parseIdentifier()
	pr := &Protocol{Range: p.rng(start, start)}
	ns, _, rest := p.namedProps(props, false)
	pr.Props = p.checkReserved(rest, protocolReserved, "a protocol")
	if ok {
		space, name := splitName(id)
		if !strings.Contains(id, ".") {
			space = ns
		}
		if space != "" {
			p.checkNamespace(space, nameStart)
		}
		pr.Name = name
		pr.Namespace = space
	}
	p.namespaces = append(p.namespaces, pr.Namespace)
	pr.Doc = p.docFor(startIdx)
	p.protocol = pr
	p.res.Kind = KindProtocol
	p.res.Protocol = pr
	p.l.protocols = append(p.l.protocols, pr)
	if !p.expect(tLBrace) {
		p.syncDecl()
	}
	for p.tok != tRBrace && p.tok != tEOF {
		p.parseProtocolItem()
	}
	pr.Range.End = p.end
	p.expect(tRBrace)
	p.namespaces = p.namespaces[:len(p.namespaces)-1]
}

func (p *parser) parseProtocolItem() {
	if p.isKw(kwImport) {
		p.parseImport()
		return
	}
	startIdx, start := p.idx, p.start
	props := p.parseProps()
	if p.tok == tIdent {
		switch p.kw {
		case kwRecord, kwError, kwEnum, kwFixed:
			p.parseNamedDecl(props, startIdx, start)
			return
		}
	}
	p.parseMessage(props, startIdx, start)
}

// parseSchemaFile parses a schema-mode file: an optional namespace, an
// optional main schema, then imports and named types.
func (p *parser) parseSchemaFile(props []Prop, startIdx, start int) {
	p.res.Kind = KindSchemas
	sawDecl := false
	first := true
	for {
		if !first {
			startIdx, start = p.idx, p.start
			props = p.parseProps()
		}
		first = false
		if p.tok == tEOF {
			if len(props) > 0 {
				p.errorExpected("record, enum or fixed after annotations")
			}
			return
		}
		if p.tok != tIdent {
			p.errorExpected("namespace, schema, import or a named type declaration")
			p.next()
			p.syncDecl()
			continue
		}
		switch p.kw {
		case kwNamespace:
			p.noProps(props, "a namespace declaration")
			misplaced := sawDecl || len(p.namespaces) > 0 || p.res.Main != nil
			if misplaced {
				p.errorAt(p.start, p.end, "the namespace declaration must come first in the file, and only once")
			}
			p.next()
			nsStart := p.start
			id, ok := p.parseIdentifier()
			if ok && !misplaced {
				p.checkNamespace(id, nsStart)
				p.namespaces = append(p.namespaces, id)
			}
			p.expect(tSemicolon)
		case kwSchema:
			p.noProps(props, "a schema declaration")
			if sawDecl || p.res.Main != nil {
				p.errorAt(p.start, p.end, "the main schema declaration must come before imports and named types, and only once")
			}
			p.next()
			t, _, _ := p.parseFullType()
			if t != nil && p.res.Main == nil {
				p.res.Main = t
				p.res.Kind = KindSchema
			}
			p.expect(tSemicolon)
		case kwImport:
			p.noProps(props, "an import")
			sawDecl = true
			p.parseImport()
		case kwRecord, kwError, kwEnum, kwFixed:
			sawDecl = true
			p.parseNamedDecl(props, startIdx, start)
		case kwProtocol:
			p.errorAt(p.start, p.end, "a protocol must be the only declaration of its file")
			p.next()
			p.syncDecl()
		default:
			p.errorExpected("namespace, schema, import or a named type declaration (messages need a protocol)")
			p.next()
			p.syncDecl()
		}
	}
}

func (p *parser) noProps(props []Prop, what string) {
	if len(props) > 0 {
		p.semErr(props[0].Range.Start, props[0].Range.End, "annotations are not allowed on %s", what)
	}
}

// parseImport parses `import idl|protocol|schema "file";` and reads the
// file at once, so that its types take their place in definition order.
func (p *parser) parseImport() {
	p.next() // import
	kind := p.kw
	if p.tok != tIdent || (kind != kwIDL && kind != kwProtocol && kind != kwSchema) {
		p.errorExpected("idl, protocol or schema after import")
		p.syncDecl()
		return
	}
	p.next()
	if p.tok != tString {
		p.errorExpected("the file name as a string")
		p.syncDecl()
		return
	}
	at := p.rng(p.start, p.end)
	name, ok := p.unquote(p.start, p.end)
	p.next()
	p.expect(tSemicolon)
	if !ok {
		return
	}
	p.l.importFile(kind, name, p.dir, at, p.protocol)
}

// ---------------------------------------------------------------------------
// Annotations

// parseProps parses zero or more annotations `@name(json)`.
func (p *parser) parseProps() []Prop {
	var props []Prop
	for p.tok == tAt {
		start := p.start
		p.next()
		name, ok := p.parseIdentifier()
		if !ok {
			p.skipAnnotationArgs()
			continue
		}
		if !p.expect(tLParen) {
			p.skipAnnotationArgs()
			continue
		}
		v := p.parseValue()
		if !p.expect(tRParen) {
			p.skipAnnotationArgs()
			continue
		}
		if v == nil {
			continue
		}
		// The same annotation twice: the last value wins, in the place of
		// the first, as the reference's IdlReader keeps properties.
		prop := Prop{Name: name, Value: v, Range: p.rng(start, p.prevEnd)}
		dup := false
		for i := range props {
			if props[i].Name == name {
				prop.Overrides = props[i].Range
				props[i] = prop
				dup = true
				break
			}
		}
		if !dup {
			props = append(props, prop)
		}
	}
	return props
}

// skipAnnotationArgs skips a broken annotation up to its closing paren.
func (p *parser) skipAnnotationArgs() {
	depth := 0
	for p.tok != tEOF {
		switch p.tok {
		case tLParen, tLBrace, tLBracket:
			depth++
		case tRParen, tRBrace, tRBracket:
			depth--
			if depth <= 0 {
				p.next()
				return
			}
		case tSemicolon:
			if depth <= 1 {
				return
			}
		}
		p.next()
	}
}

var (
	schemaReserved   = []string{"doc", "fields", "items", "name", "namespace", "size", "symbols", "values", "type", "aliases"}
	fieldReserved    = []string{"default", "doc", "name", "order", "type", "aliases"}
	protocolReserved = []string{"namespace", "protocol", "doc", "messages", "types", "errors"}
	messageReserved  = []string{"doc", "response", "request", "errors", "one-way"}
)

// checkReserved reports annotations whose names Avro reserves for its own
// keys on the construct, and drops them.
func (p *parser) checkReserved(props []Prop, reserved []string, what string) []Prop {
	out := props[:0]
	for _, pr := range props {
		bad := false
		for _, r := range reserved {
			if pr.Name == r {
				bad = true
				break
			}
		}
		if bad {
			p.semErr(pr.Range.Start, pr.Range.End, "@%s cannot be used on %s: %q is a reserved Avro attribute there", pr.Name, what, pr.Name)
			continue
		}
		out = append(out, pr)
	}
	return out
}

// namedProps takes @namespace (and, when withAliases, @aliases) out of the
// annotations of a named type or protocol. ns is the explicit @namespace,
// or the current namespace.
func (p *parser) namedProps(props []Prop, withAliases bool) (ns string, aliases []string, rest []Prop) {
	ns = p.currentNamespace()
	rest = props[:0]
	for _, pr := range props {
		switch {
		case pr.Name == "namespace":
			if pr.Value.Kind != StringValue {
				p.semErr(pr.Value.Range.Start, pr.Value.Range.End, "@namespace(...) must contain a string value")
				continue
			}
			ns = pr.Value.Str
			if ns != "" {
				p.checkNamespace(ns, pr.Value.Range.Start)
			}
		case withAliases && pr.Name == "aliases":
			aliases = p.stringArray(pr, "@aliases(...) must contain an array of string values")
		default:
			rest = append(rest, pr)
		}
	}
	return ns, aliases, rest
}

func (p *parser) stringArray(pr Prop, msg string) []string {
	v := pr.Value
	if v.Kind != ArrayValue {
		p.semErr(v.Range.Start, v.Range.End, "%s", msg)
		return nil
	}
	out := make([]string, 0, len(v.Items))
	for _, it := range v.Items {
		if it.Kind != StringValue {
			p.semErr(it.Range.Start, it.Range.End, "%s", msg)
			return nil
		}
		out = append(out, it.Str)
	}
	return out
}

// ---------------------------------------------------------------------------
// Names

// parseIdentifier parses an identifier or keyword used as a name and
// returns it without backticks.
func (p *parser) parseIdentifier() (string, bool) {
	if p.tok != tIdent {
		p.errorExpected("identifier")
		return "", false
	}
	t := p.text()
	if strings.IndexByte(t, '`') >= 0 {
		t = strings.ReplaceAll(t, "`", "")
	}
	p.next()
	return t, true
}

var invalidTypeNames = map[string]bool{"boolean": true, "int": true, "long": true, "float": true,
	"double": true, "bytes": true, "string": true, "null": true, "date": true, "time_ms": true,
	"timestamp_ms": true, "localtimestamp_ms": true, "local_timestamp_ms": true, "uuid": true}

// validName reports whether s is a valid Avro name: [_\p{L}][_\p{L}\p{Nd}]*.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || unicode.IsLetter(r) {
			continue
		}
		if i > 0 && unicode.IsDigit(r) {
			continue
		}
		return false
	}
	return true
}

func (p *parser) checkName(name string, at int, typeName bool) {
	if !validName(name) {
		p.semErr(at, at+len(name), "illegal name %q: a name starts with a letter or _ and continues with letters, digits or _", name)
		return
	}
	if typeName && invalidTypeNames[name] {
		p.semErr(at, at+len(name), "illegal name %q: it is the name of a primitive type", name)
	}
}

func (p *parser) checkNamespace(ns string, at int) {
	for _, part := range strings.Split(ns, ".") {
		if !validName(part) {
			p.semErr(at, at+len(ns), "illegal namespace %q", ns)
			return
		}
	}
}

// declName splits the identifier of a named type declaration into name and
// namespace: a dotted identifier names its namespace, otherwise ns holds.
func (p *parser) declName(id string, ns string, at int) (string, string) {
	if i := strings.LastIndexByte(id, '.'); i >= 0 {
		ns = id[:i]
		p.checkNamespace(ns, at)
		id = id[i+1:]
		at += i + 1
	}
	p.checkName(id, at, true)
	return id, ns
}

func fullName(ns, name string) string {
	if strings.IndexByte(name, '.') >= 0 || ns == "" {
		return name
	}
	return ns + "." + name
}

// aliasNames makes aliases full names relative to ns.
func aliasNames(aliases []string, ns string) []string {
	for i, a := range aliases {
		aliases[i] = fullName(ns, a)
	}
	return aliases
}

// ---------------------------------------------------------------------------
// Named types

func (p *parser) parseNamedDecl(props []Prop, startIdx, start int) {
	switch p.kw {
	case kwRecord, kwError:
		p.parseRecord(props, startIdx, start)
	case kwEnum:
		p.parseEnum(props, startIdx, start)
	case kwFixed:
		p.parseFixed(props, startIdx, start)
	}
}

// declHead parses the keyword and name of a named type declaration and
// applies its annotations (@namespace, @aliases, the others as
// properties). ok is false when the name is missing: the type is then
// parsed but not defined.
func (p *parser) declHead(kind Kind, props []Prop, start int, what string) (s *Schema, ok bool) {
	p.next() // record, error, enum or fixed
	nameStart, nameEnd := p.start, p.end
	id, ok := p.parseIdentifier()
	ns, aliases, rest := p.namedProps(props, true)
	s = p.l.mem.newSchema(Schema{Kind: kind, Range: p.rng(start, start), NameRange: p.rng(nameStart, nameEnd)})
	if ok {
		s.Name, s.Namespace = p.declName(id, ns, nameStart)
	}
	s.Aliases = aliasNames(aliases, s.Namespace)
	s.Props = p.checkReserved(rest, schemaReserved, what)
	return s, ok
}

func (p *parser) parseRecord(props []Prop, startIdx, start int) {
	isError := p.kw == kwError
	s, ok := p.declHead(Record, props, start, "a record")
	s.IsError = isError
	s.Doc = p.docFor(startIdx)
	if !p.expect(tLBrace) {
		p.syncDecl()
		return
	}
	p.namespaces = append(p.namespaces, s.Namespace)
	for p.tok != tRBrace && p.tok != tEOF {
		p.parseFieldDecl(s)
	}
	p.namespaces = p.namespaces[:len(p.namespaces)-1]
	s.Range.End = p.end
	p.expect(tRBrace)
	if ok {
		s.Protocol = p.protocol
		p.l.define(s)
	}
}

// parseFieldDecl parses `type var [= default], var2 ...;`.
func (p *parser) parseFieldDecl(rec *Schema) {
	fieldDoc := p.docFor(p.idx)
	typStart := p.start
	typ, optional, ok := p.parseFullType()
	if !ok {
		p.syncField()
		return
	}
	typRange := p.rng(typStart, p.prevEnd)
	for {
		f := p.parseVariable(typ, optional, fieldDoc)
		if f == nil {
			p.syncField()
			return
		}
		f.TypeRange = typRange
		dup := false
		for _, g := range rec.Fields {
			if g.Name == f.Name {
				p.semErr(f.NameRange.Start, f.NameRange.End, "duplicate field %s in %s %s: already declared at %s", f.Name, recordWord(rec), rec.Name, g.NameRange.Pos())
				dup = true
				break
			}
		}
		if !dup {
			rec.Fields = append(rec.Fields, f)
		}
		if p.tok != tComma {
			break
		}
		p.next()
	}
	if !p.expect(tSemicolon) {
		p.syncField()
	}
}

func recordWord(s *Schema) string {
	if s.IsError {
		return "error"
	}
	return "record"
}

// parseVariable parses the `@props name = default` part of a field or
// parameter of type typ.
func (p *parser) parseVariable(typ *Schema, optional bool, defaultDoc string) *Field {
	startIdx, start := p.idx, p.start
	props := p.parseProps()
	nameStart, nameEnd := p.start, p.end
	name, ok := p.parseIdentifier()
	if !ok {
		return nil
	}
	p.checkName(name, nameStart, false)
	f := p.l.mem.field()
	*f = Field{Name: name, Type: typ, Order: "ascending", NameRange: p.rng(nameStart, nameEnd)}
	if p.tok == tEquals {
		p.next()
		f.Default = p.parseValue()
		if f.Default == nil {
			return nil
		}
	}
	f.Range = p.rng(start, p.prevEnd)
	f.Doc = p.docFor(startIdx)
	if f.Doc == "" {
		f.Doc = defaultDoc
	}
	if optional {
		// T? is ["null", T], or [T, "null"] when the default is not null.
		if f.Default != nil && f.Default.Kind != NullValue {
			f.Type = p.l.mem.newSchema(Schema{Kind: Union, Types: []*Schema{typ.Types[1], typ.Types[0]}, Range: typ.Range})
		}
	}
	rest := props[:0]
	for _, pr := range props {
		switch pr.Name {
		case "order":
			if pr.Value.Kind != StringValue {
				p.semErr(pr.Value.Range.Start, pr.Value.Range.End, "@order(...) must contain a string value")
				continue
			}
			switch strings.ToLower(pr.Value.Str) {
			case "ascending", "descending", "ignore":
				f.Order = strings.ToLower(pr.Value.Str)
			default:
				p.semErr(pr.Value.Range.Start, pr.Value.Range.End, `@order(...) must contain "ASCENDING", "DESCENDING" or "IGNORE"`)
			}
		case "aliases":
			f.Aliases = p.stringArray(pr, "@aliases(...) must contain an array of string values")
		default:
			rest = append(rest, pr)
		}
	}
	f.Props = p.checkReserved(rest, fieldReserved, "a field")
	return f
}

func (p *parser) parseEnum(props []Prop, startIdx, start int) {
	s, ok := p.declHead(Enum, props, start, "an enum")
	if !p.expect(tLBrace) {
		p.syncDecl()
		return
	}
	seen := make(map[string]int, 8)
	for p.tok != tRBrace && p.tok != tEOF {
		symProps := p.parseProps()
		if len(symProps) > 0 {
			p.l.warnf(symProps[0].Range, "annotations on enum symbols are ignored")
		}
		symStart := p.start
		sym, ok := p.parseIdentifier()
		if !ok {
			p.syncDecl()
			return
		}
		if !validName(sym) {
			p.semErr(symStart, p.prevEnd, "illegal enum symbol %q", sym)
		} else if prev, dup := seen[sym]; dup {
			p.semErr(symStart, p.prevEnd, "duplicate enum symbol %s: already declared at %s", sym, p.file.Position(prev))
		} else {
			seen[sym] = symStart
			s.Symbols = append(s.Symbols, sym)
		}
		if p.tok != tComma {
			break
		}
		p.next()
	}
	s.Range.End = p.end
	if !p.expect(tRBrace) {
		p.syncDecl()
		return
	}
	if p.tok == tEquals {
		p.next()
		defStart := p.start
		def, ok := p.parseIdentifier()
		if ok {
			if _, found := seen[def]; !found {
				p.semErr(defStart, p.prevEnd, "enum default %s is not one of the symbols of %s", def, s.Name)
			} else {
				s.Default = def
			}
		}
		s.Range.End = p.end
		p.expect(tSemicolon)
	}
	s.Doc = p.docFor(startIdx)
	if ok {
		s.Protocol = p.protocol
		p.l.define(s)
	}
}

func (p *parser) parseFixed(props []Prop, startIdx, start int) {
	s, ok := p.declHead(Fixed, props, start, "a fixed type")
	if !p.expect(tLParen) {
		p.syncDecl()
		return
	}
	if p.tok != tInt {
		p.errorExpected("the size as an integer")
		p.syncDecl()
		return
	}
	n, isLong, err := parseIntLiteral(p.text())
	switch {
	case err != "":
		p.semErr(p.start, p.end, "%s", err)
	case isLong || n < 0 || n > 1<<31-1:
		p.semErr(p.start, p.end, "fixed size %s must be a non-negative int", p.text())
	default:
		s.Size = int(n)
	}
	p.next()
	p.expect(tRParen)
	s.Range.End = p.end
	p.expect(tSemicolon)
	s.Doc = p.docFor(startIdx)
	if ok {
		s.Protocol = p.protocol
		p.l.define(s)
	}
}

// ---------------------------------------------------------------------------
// Messages

func (p *parser) parseMessage(props []Prop, startIdx, start int) {
	m := &Message{Doc: p.docFor(startIdx)}
	m.Props = p.checkReserved(props, messageReserved, "a message")
	if p.isKw(kwVoid) {
		m.Response = primitives[Null]
		p.next()
	} else {
		if p.tok != tIdent {
			p.errorExpected("a message, record, enum, fixed or import")
			p.next()
			p.syncDecl()
			return
		}
		t, _, ok := p.parsePlainType()
		if !ok {
			p.syncDecl()
			return
		}
		m.Response = t
	}
	nameStart := p.start
	name, ok := p.parseIdentifier()
	if !ok {
		p.syncDecl()
		return
	}
	m.Name = name
	if !p.expect(tLParen) {
		p.syncDecl()
		return
	}
	for p.tok != tRParen && p.tok != tEOF {
		pdoc := p.docFor(p.idx)
		typ, optional, ok := p.parseFullType()
		if !ok {
			p.syncDecl()
			return
		}
		f := p.parseVariable(typ, optional, pdoc)
		if f == nil {
			p.syncDecl()
			return
		}
		for _, g := range m.Request {
			if g.Name == f.Name {
				p.semErr(f.NameRange.Start, f.NameRange.End, "duplicate parameter %s in message %s", f.Name, name)
			}
		}
		m.Request = append(m.Request, f)
		if p.tok != tComma {
			break
		}
		p.next()
	}
	if !p.expect(tRParen) {
		p.syncDecl()
		return
	}
	switch {
	case p.isKw(kwOneway):
		if m.Response.Kind != Null {
			p.semErr(p.start, p.end, "one-way message %s must return void", name)
		}
		m.OneWay = true
		p.next()
	case p.isKw(kwThrows):
		p.next()
		for {
			errStart, errEnd := p.start, p.end
			id, ok := p.parseIdentifier()
			if !ok {
				p.syncDecl()
				return
			}
			m.Errors = append(m.Errors, p.l.lookup(fullName(p.currentNamespace(), id), "", p.rng(errStart, errEnd)))
			if p.tok != tComma {
				break
			}
			p.next()
		}
	}
	m.Range = p.rng(start, p.end)
	if !p.expect(tSemicolon) {
		p.syncDecl()
		return
	}
	if p.protocol != nil {
		for _, old := range p.protocol.Messages {
			if old.Name == name && old.Range.File == p.file {
				p.semErr(nameStart, nameStart+len(name), "duplicate message %s: already declared at %s", name, old.Range.Pos())
				return
			}
		}
		p.protocol.addMessage(m)
	}
}

// ---------------------------------------------------------------------------
// Types

// parseFullType parses annotations followed by a type. optional reports a
// `T?` type, returned as the union ["null", T].
func (p *parser) parseFullType() (t *Schema, optional, ok bool) {
	start := p.start
	props := p.parseProps()
	t, optional, ok = p.parsePlainType()
	if !ok || len(props) == 0 {
		return t, optional, ok
	}
	target := t
	if optional {
		target = t.Types[1]
	}
	if target.Kind == Ref || target.Kind.IsNamed() {
		p.semErr(start, p.prevEnd, "type references may not be annotated: annotate the declaration of %s instead", target.refOrFullName())
		return t, optional, true
	}
	if target.Kind == Union {
		p.l.warnf(props[0].Range, "annotations on a union are not written to the schema")
	}
	props = p.checkReserved(props, schemaReserved, "a type")
	if target.shared {
		target = p.l.mem.newSchema(Schema{Kind: target.Kind, Props: append([]Prop(nil), target.Props...), Range: p.rng(start, p.prevEnd)})
		if optional {
			t.Types[1] = target
		} else {
			t = target
		}
	}
	target.Props = append(target.Props, props...)
	fixLogicalType(target)
	return t, optional, true
}

func (s *Schema) refOrFullName() string {
	if s.Kind == Ref {
		return s.refName
	}
	return s.FullName()
}

// parsePlainType parses array<T>, map<T>, union{...}, a primitive or a
// reference, with an optional `?`.
func (p *parser) parsePlainType() (t *Schema, optional, ok bool) {
	start := p.start
	if p.tok != tIdent {
		p.errorExpected("a type")
		return nil, false, false
	}
	nullable := false // `?` applies to primitive and named types only
	switch p.kw {
	case kwArray, kwMap:
		kind := Array
		if p.kw == kwMap {
			kind = Map
		}
		p.next()
		if !p.expect(tLT) {
			return nil, false, false
		}
		items, _, ok := p.parseFullType()
		if !ok {
			return nil, false, false
		}
		if !p.expect(tGT) {
			return nil, false, false
		}
		t = p.l.mem.newSchema(Schema{Kind: kind, Items: items, Range: p.rng(start, p.prevEnd)})
	case kwUnion:
		p.next()
		if !p.expect(tLBrace) {
			return nil, false, false
		}
		u := p.l.mem.newSchema(Schema{Kind: Union, Types: make([]*Schema, 0, 3)})
		for {
			b, _, ok := p.parseFullType()
			if !ok {
				return nil, false, false
			}
			u.Types = append(u.Types, b)
			if p.tok != tComma {
				break
			}
			p.next()
		}
		if !p.expect(tRBrace) {
			return nil, false, false
		}
		u.Range = p.rng(start, p.prevEnd)
		t = u
	case kwDecimal:
		p.next()
		t, ok = p.parseDecimal(start)
		if !ok {
			return nil, false, false
		}
		nullable = true
	default:
		nullable = true
		if kt := keywordTypes[p.kw]; kt != nil {
			t = kt
			p.next()
			break
		}
		id := p.text()
		if strings.IndexByte(id, '`') >= 0 {
			id = strings.ReplaceAll(id, "`", "")
		}
		r := p.rng(p.start, p.end)
		p.next()
		t = p.l.lookup(fullName(p.currentNamespace(), id), "", r)
	}
	if p.tok == tQuestion {
		if !nullable {
			fix := "add null to the union's branches instead"
			if t.Kind == Array {
				fix = "write union { null, array<...> } instead"
			} else if t.Kind == Map {
				fix = "write union { null, map<...> } instead"
			}
			p.errorAt(p.start, p.end, "`?` applies to primitive and named types only: "+fix)
			p.next()
			return t, false, true
		}
		p.next()
		return p.l.mem.newSchema(Schema{Kind: Union, Types: []*Schema{primitives[Null], t}, Range: p.rng(start, p.prevEnd)}), true, true
	}
	return t, false, true
}

// The logical types of the IDL keywords are shared, like primitives.
var (
	logicalDate                 = logical(Int, "date")
	logicalTimeMillis           = logical(Int, "time-millis")
	logicalTimestampMillis      = logical(Long, "timestamp-millis")
	logicalLocalTimestampMillis = logical(Long, "local-timestamp-millis")
	logicalUUID                 = logical(String, "uuid")
)

// keywordTypes are the schemas of the primitive and logical-type
// keywords; decimal, which takes arguments, is parsed apart.
var keywordTypes = [...]*Schema{
	kwBoolean: primitives[Boolean], kwInt: primitives[Int], kwLong: primitives[Long],
	kwFloat: primitives[Float], kwDouble: primitives[Double], kwBytes: primitives[Bytes],
	kwString: primitives[String], kwNull: primitives[Null],
	kwDate: logicalDate, kwTimeMs: logicalTimeMillis, kwTimestampMs: logicalTimestampMillis,
	kwLocalTimestampMs: logicalLocalTimestampMillis, kwUUID: logicalUUID,
	kwThrows: nil, // sizes the table to every keyword
}

func logical(k Kind, name string) *Schema {
	return &Schema{Kind: k, shared: true, Props: []Prop{{Name: "logicalType", Value: &Value{Kind: StringValue, Str: name}}}}
}

func (p *parser) parseDecimal(start int) (*Schema, bool) {
	if !p.expect(tLParen) {
		return nil, false
	}
	if p.tok != tInt {
		p.errorExpected("the precision as an integer")
		return nil, false
	}
	prec, _, err := parseIntLiteral(p.text())
	if err != "" || prec <= 0 || prec > 1<<31-1 {
		p.semErr(p.start, p.end, "decimal precision must be a positive int")
	}
	p.next()
	var scale int64
	if p.tok == tComma {
		p.next()
		if p.tok != tInt {
			p.errorExpected("the scale as an integer")
			return nil, false
		}
		var err string
		scale, _, err = parseIntLiteral(p.text())
		if err != "" || scale < 0 || scale > prec {
			p.semErr(p.start, p.end, "decimal scale must be a non-negative int no greater than the precision %d", prec)
		}
		p.next()
	}
	if !p.expect(tRParen) {
		return nil, false
	}
	key := [2]int64{prec, scale}
	if d := p.l.decimals[key]; d != nil {
		return d, true
	}
	d := &Schema{Kind: Bytes, shared: true, Range: p.rng(start, p.prevEnd), Props: []Prop{
		{Name: "logicalType", Value: &Value{Kind: StringValue, Str: "decimal"}},
		{Name: "precision", Value: &Value{Kind: IntValue, Int: prec}},
		{Name: "scale", Value: &Value{Kind: IntValue, Int: scale}},
	}}
	if p.l.decimals == nil {
		p.l.decimals = make(map[[2]int64]*Schema)
	}
	p.l.decimals[key] = d
	return d, true
}

// fixLogicalType mirrors the reference, which re-applies a valid logical
// type given as annotations: a valid decimal without a scale gets scale 0.
func fixLogicalType(s *Schema) {
	if s.LogicalType() != "decimal" || s.Prop("scale") != nil {
		return
	}
	prec := s.Prop("precision")
	if prec == nil || prec.Kind != IntValue || prec.Int <= 0 || prec.Int > 1<<31-1 {
		return
	}
	if s.Kind != Bytes && s.Kind != Fixed {
		return
	}
	s.Props = append(s.Props, Prop{Name: "scale", Value: &Value{Kind: IntValue}})
}

// ---------------------------------------------------------------------------
// JSON values

// parseValue parses a JSON value as the IDL grammar writes it: JSON plus
// Java-style numbers (hex, octal, L suffix, NaN, Infinity).
func (p *parser) parseValue() *Value {
	start := p.start
	switch p.tok {
	case tLBrace:
		p.next()
		v := p.l.mem.newValue(Value{Kind: ObjectValue})
		for p.tok != tRBrace {
			if p.tok != tString {
				p.errorExpected("a member name as a string")
				return nil
			}
			key, ok := p.unquote(p.start, p.end)
			if !ok {
				return nil
			}
			p.next()
			if !p.expect(tColon) {
				return nil
			}
			item := p.parseValue()
			if item == nil {
				return nil
			}
			v.Keys = append(v.Keys, key)
			v.Items = append(v.Items, item)
			if p.tok != tComma {
				break
			}
			p.nextAfterComma(tRBrace)
		}
		if !p.expect(tRBrace) {
			return nil
		}
		v.Range = p.rng(start, p.prevEnd)
		return v
	case tLBracket:
		p.next()
		v := p.l.mem.newValue(Value{Kind: ArrayValue})
		for p.tok != tRBracket {
			item := p.parseValue()
			if item == nil {
				return nil
			}
			v.Items = append(v.Items, item)
			if p.tok != tComma {
				break
			}
			p.nextAfterComma(tRBracket)
		}
		if !p.expect(tRBracket) {
			return nil
		}
		v.Range = p.rng(start, p.prevEnd)
		return v
	case tString:
		s, ok := p.unquote(p.start, p.end)
		if !ok {
			p.next()
			return nil
		}
		p.next()
		return p.l.mem.newValue(Value{Kind: StringValue, Str: s, Range: p.rng(start, p.prevEnd)})
	case tInt:
		n, isLong, err := parseIntLiteral(p.text())
		if err != "" {
			p.semErr(p.start, p.end, "%s", err)
			p.next()
			return nil
		}
		p.next()
		return p.l.mem.newValue(Value{Kind: IntValue, Int: n, Long: isLong || n != int64(int32(n)), Range: p.rng(start, p.prevEnd)})
	case tFloat:
		f, err := parseFloatLiteral(p.text())
		if err != "" {
			p.semErr(p.start, p.end, "%s", err)
			p.next()
			return nil
		}
		p.next()
		return p.l.mem.newValue(Value{Kind: FloatValue, Float: f, Range: p.rng(start, p.prevEnd)})
	case tIdent:
		switch p.kw {
		case kwTrue, kwFalse:
			v := p.l.mem.newValue(Value{Kind: BoolValue, Bool: p.kw == kwTrue, Range: p.rng(p.start, p.end)})
			p.next()
			return v
		case kwNull:
			v := p.l.mem.newValue(Value{Kind: NullValue, Range: p.rng(p.start, p.end)})
			p.next()
			return v
		}
	}
	p.errorExpected("a JSON value")
	return nil
}

// nextAfterComma moves past the comma between two members or items of a
// JSON value and reports a trailing one, before the closing token, as
// JSON (and Avro's reference parser) does; parsing goes on.
func (p *parser) nextAfterComma(closing token) {
	comma, commaEnd := p.start, p.end
	p.next()
	if p.tok == closing {
		p.semErr(comma, commaEnd, "trailing comma before %s: JSON does not allow one", p.text())
	}
}

// unquote decodes the string literal at src[start:end] with Java's escape
// rules.
func (p *parser) unquote(start, end int) (string, bool) {
	lit := p.sc.src[start:end]
	if len(lit) < 2 || lit[len(lit)-1] != '"' {
		return "", false // reported by the scanner
	}
	body := lit[1 : len(lit)-1]
	if strings.IndexByte(body, '\\') < 0 {
		return body, true
	}
	s, badAt := unescapeJava(body)
	if badAt >= 0 {
		p.semErr(start+1+badAt, start+1+badAt+2, "invalid escape sequence in string literal")
		return "", false
	}
	return s, true
}

// unescapeJava decodes \n \r \b \f \t \\ \' \" \uXXXX and octal escapes.
// It returns the offset of a bad escape, or -1.
func unescapeJava(s string) (string, int) {
	var b strings.Builder
	b.Grow(len(s))
	var surrogate rune
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if surrogate != 0 {
				b.WriteRune(utf8.RuneError)
				surrogate = 0
			}
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", i
		}
		e := s[i+1]
		var r rune = -1
		n := 2
		switch e {
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 't':
			r = '\t'
		case '\\', '\'', '"':
			r = rune(e)
		case 'u':
			j := i + 1
			for j < len(s) && s[j] == 'u' {
				j++
			}
			if j+4 > len(s) {
				return "", i
			}
			var v rune
			for _, h := range []byte(s[j : j+4]) {
				switch {
				case h >= '0' && h <= '9':
					v = v<<4 | rune(h-'0')
				case h >= 'a' && h <= 'f':
					v = v<<4 | rune(h-'a'+10)
				case h >= 'A' && h <= 'F':
					v = v<<4 | rune(h-'A'+10)
				default:
					return "", i
				}
			}
			n = j + 4 - i
			if v >= 0xD800 && v < 0xDC00 {
				if surrogate != 0 {
					b.WriteRune(utf8.RuneError)
				}
				surrogate = v
				i += n
				continue
			}
			if v >= 0xDC00 && v < 0xE000 {
				if surrogate != 0 {
					b.WriteRune(0x10000 + (surrogate-0xD800)<<10 + (v - 0xDC00))
					surrogate = 0
				} else {
					b.WriteRune(utf8.RuneError)
				}
				i += n
				continue
			}
			r = v
		default:
			if e >= '0' && e <= '7' {
				v := rune(e - '0')
				j := i + 2
				max := 2
				if e > '3' {
					max = 1
				}
				for k := 0; k < max && j < len(s) && s[j] >= '0' && s[j] <= '7'; k++ {
					v = v*8 + rune(s[j]-'0')
					j++
				}
				r = v
				n = j - i
			} else {
				return "", i
			}
		}
		if surrogate != 0 {
			b.WriteRune(utf8.RuneError)
			surrogate = 0
		}
		b.WriteRune(r)
		i += n
	}
	if surrogate != 0 {
		b.WriteRune(utf8.RuneError)
	}
	return b.String(), -1
}
