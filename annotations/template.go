package annotations

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
)

// A template kind is a monitor kind a platform team declares in esm.yaml
// (kinds:) rather than one built into esm: an annotation name, a monitor
// name pattern, a monitor type, a query template, an optional summary
// template and thresholds, and typed parameters with defaults and ranges.
// It is used exactly like a built-in kind: layered parameters, the common
// parameters, @alert_channel, tags and messages.
//
// The templates are Go text/template texts, executed with missingkey=error
// over TemplateVars: the built-in variables (capitalised) and the kind's
// parameters (lowercase, by name). Expanding them is plain substitution of
// neutral values, so it happens here, in Spec: the query text is the
// team's, in the language of the backend it names (the Datadog query
// language for the Datadog monitor types), and only that backend reads
// it. internal/datadog checks what Datadog itself requires of it.

// DeclText is a text of a kind declaration (a template, a type name) with
// its position.
type DeclText struct {
	Text string
	Pos  Position
}

// DeclValue is a value of a kind declaration (a default, a bound, an enum
// item) as JSON, with its position.
type DeclValue struct {
	JSON json.RawMessage
	Pos  Position
}

// ParamDecl declares one parameter of a template kind.
type ParamDecl struct {
	// Name is the parameter's name: lowercase letters, digits and _.
	Name string
	// Pos is where the parameter is declared (its key).
	Pos Position
	// Type is number, integer, string, boolean or window.
	Type DeclText
	// Default is the parameter's value when no layer sets it; required.
	Default *DeclValue
	// Min and Max bound a number, an integer (numbers) or a window
	// (windows such as "last_5m"), inclusive; optional.
	Min, Max *DeclValue
	// Enum lists the values a string may take; optional.
	Enum []DeclValue
	// Pattern is a regular expression a whole string must match; optional.
	Pattern *DeclText
	// Doc describes the parameter, for people; optional.
	Doc string
}

// KindDecl declares a template kind, as esm.yaml's kinds: section writes
// it.
type KindDecl struct {
	// Annotation is the annotation's name; it ends with _monitor.
	Annotation string
	// Pos is where the kind is declared (its key).
	Pos Position
	// Name is the template of the monitor's name; it must use {{.Record}}.
	Name DeclText
	// Type is the monitor's type in its backend, e.g. "query alert".
	Type DeclText
	// Query is the template of the monitor's query.
	Query DeclText
	// Summary is the template of the first paragraph of the monitor's
	// message; optional.
	Summary *DeclText
	// Warning, CriticalRecovery and WarningRecovery are templates of
	// thresholds: each expands to a number, or to nothing for none. The
	// critical threshold is the query's own.
	Warning, CriticalRecovery, WarningRecovery *DeclText
	// Params are the kind's own parameters, in declaration order.
	Params []ParamDecl
}

// Param types of a template kind.
const (
	ParamNumber  = "number"
	ParamInteger = "integer"
	ParamString  = "string"
	ParamBoolean = "boolean"
	ParamWindow  = "window"
)

// paramTypes are the parameter types, in the order messages list them.
var paramTypes = []string{ParamNumber, ParamInteger, ParamString, ParamBoolean, ParamWindow}

// TemplateVars are the built-in variables of a template kind's
// templates, with what each holds.
var TemplateVars = map[string]string{
	"Record":    "the record's simple name, as declared (AddToCartEvent)",
	"FullName":  "the record's namespace-qualified name (com.example.shop.AddToCartEvent)",
	"EventType": "the value of the record's event_type tag as the backend stores it (addtocartevent)",
	"Env":       "the environment's name (prod)",
	"EnvTag":    "the value of the env tag as the backend stores it (prod)",
	"Metric":    "the environment's event counter (esm.events.received)",
	"Scope":     "the filter of the record's events: event_type:<EventType>,env:<EnvTag>",
}

var (
	annotationNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*_monitor$`)
	paramNameRE      = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// maxTemplateOutput bounds what one template may expand to, in bytes.
const maxTemplateOutput = 8 << 10

// TemplateKind is a kind declared in esm.yaml. NewTemplateKind builds it.
type TemplateKind struct {
	decl      KindDecl
	params    []*templateParam
	byName    map[string]*templateParam
	name      *template.Template
	query     *template.Template
	summary   *template.Template
	threshold map[string]*template.Template // warning, critical_recovery, warning_recovery
	defaults  json.RawMessage
}

// templateParam is a checked parameter declaration.
type templateParam struct {
	decl     *ParamDecl
	typ      string
	def      any
	min, max *float64 // numbers and integers
	minW     bound    // windows
	maxW     bound
	enum     []string
	pattern  *regexp.Regexp
	patText  string
}

// commonParamNames are the names of the common parameters, which a
// template kind's parameters cannot take.
var commonParamNames = paramNames(reflect.TypeOf(CommonParams{}))

func isCommonParam(name string) bool {
	i := sort.SearchStrings(commonParamNames, name)
	return i < len(commonParamNames) && commonParamNames[i] == name
}

// NewTemplateKind checks a declaration and returns its kind. Every
// problem is reported, each at the position of the text or value at
// fault: a name that clashes with a built-in kind, a parameter of an
// unknown type or whose default is out of its own range, a template that
// does not parse, uses an unknown variable or parameter, or does not
// expand with the defaults and a sample record.
func NewTemplateKind(d KindDecl) (*TemplateKind, error) {
	k := &TemplateKind{decl: d, byName: map[string]*templateParam{}, threshold: map[string]*template.Template{}}
	var errs []error
	bad := func(pos Position, format string, args ...any) {
		errs = append(errs, errorf(pos, "kinds.%s: %s", d.Annotation, fmt.Sprintf(format, args...)))
	}
	switch {
	case d.Annotation == ChannelAnnotation:
		bad(d.Pos, "%s is esm's own annotation", ChannelAnnotation)
	case !annotationNameRE.MatchString(d.Annotation):
		bad(d.Pos, "a kind's annotation name is lowercase letters, digits and _, starting with a letter and ending with _monitor")
	default:
		if _, builtin := Lookup(d.Annotation); builtin {
			bad(d.Pos, "@%s is a built-in kind; give your kind another name", d.Annotation)
		}
	}
	for i := range d.Params {
		p, err := newTemplateParam(d.Annotation, &d.Params[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := k.byName[p.decl.Name]; dup {
			bad(p.decl.Pos, "parameter %q is declared twice", p.decl.Name)
			continue
		}
		k.params = append(k.params, p)
		k.byName[p.decl.Name] = p
	}
	parse := func(what string, t *DeclText, required bool) *template.Template {
		if t == nil || strings.TrimSpace(t.Text) == "" {
			if required {
				pos := d.Pos
				if t != nil {
					pos = t.Pos
				}
				bad(pos, "%s is required", what)
			}
			return nil
		}
		tp, err := template.New(what).Option("missingkey=error").Parse(t.Text)
		if err != nil {
			bad(t.Pos, "%s: %s", what, templateMessage(err))
			return nil
		}
		if msg := unboundedAction(tp); msg != "" {
			bad(t.Pos, "%s: %s", what, msg)
			return nil
		}
		return tp
	}
	k.name = parse("name", &d.Name, true)
	k.query = parse("query", &d.Query, true)
	k.summary = parse("summary", d.Summary, false)
	for what, t := range map[string]*DeclText{"warning": d.Warning, "critical_recovery": d.CriticalRecovery, "warning_recovery": d.WarningRecovery} {
		if tp := parse(what, t, false); tp != nil {
			k.threshold[what] = tp
		}
	}
	if strings.TrimSpace(d.Type.Text) == "" {
		bad(d.Type.Pos, "type is required: the monitor's type in its backend, such as \"query alert\"")
	}
	if len(errs) > 0 {
		return nil, sortedErrors(errs)
	}
	k.defaults = k.defaultsJSON()
	return k, k.checkTemplates()
}

// newTemplateParam checks one parameter declaration.
func newTemplateParam(kind string, d *ParamDecl) (*templateParam, error) {
	var errs []error
	bad := func(pos Position, format string, args ...any) {
		errs = append(errs, errorf(pos, "kinds.%s.params.%s: %s", kind, d.Name, fmt.Sprintf(format, args...)))
	}
	p := &templateParam{decl: d, typ: d.Type.Text}
	switch {
	case !paramNameRE.MatchString(d.Name):
		bad(d.Pos, "a parameter name is lowercase letters, digits and _, starting with a letter")
	case isCommonParam(d.Name):
		bad(d.Pos, "%s is a parameter every kind takes already; give yours another name", d.Name)
	}
	known := false
	for _, t := range paramTypes {
		known = known || p.typ == t
	}
	if !known {
		at := d.Type.Pos
		if d.Type.Text == "" && at == (Position{}) {
			at = d.Pos
		}
		bad(at, "type must be one of %s, not %q", strings.Join(paramTypes, ", "), d.Type.Text)
		return nil, errors.Join(errs...)
	}
	decodeBound := func(what string, v *DeclValue) {
		if v == nil {
			return
		}
		val, msg := decodeParamValue(p.typ, what, v.JSON)
		switch {
		case msg != "":
			bad(v.Pos, "%s", msg)
		case p.typ == ParamNumber || p.typ == ParamInteger:
			f := toFloat(val)
			if what == "min" {
				p.min = &f
			} else {
				p.max = &f
			}
		case p.typ == ParamWindow:
			sec, _ := windowSeconds(val.(string))
			if what == "min" {
				p.minW = bound{sec, val.(string)}
			} else {
				p.maxW = bound{sec, val.(string)}
			}
		default:
			bad(v.Pos, "%s applies to number, integer and window parameters, not to a %s", what, p.typ)
		}
	}
	decodeBound("min", d.Min)
	decodeBound("max", d.Max)
	if p.min != nil && p.max != nil && *p.min > *p.max {
		bad(d.Max.Pos, "max %v is less than min %v", *p.max, *p.min)
	}
	if p.minW.sec > 0 && p.maxW.sec > 0 && p.minW.sec > p.maxW.sec {
		bad(d.Max.Pos, "max %s is shorter than min %s", p.maxW.text, p.minW.text)
	}
	for _, e := range d.Enum {
		if p.typ != ParamString {
			bad(e.Pos, "enum applies to string parameters, not to a %s", p.typ)
			break
		}
		var s string
		if err := json.Unmarshal(e.JSON, &s); err != nil {
			bad(e.Pos, "an enum value is a string, not %s", jsonKind(e.JSON))
			continue
		}
		p.enum = append(p.enum, s)
	}
	if d.Pattern != nil {
		re, err := regexp.Compile(`^(?:` + d.Pattern.Text + `)$`)
		switch {
		case p.typ != ParamString:
			bad(d.Pattern.Pos, "pattern applies to string parameters, not to a %s", p.typ)
		case err != nil:
			bad(d.Pattern.Pos, "pattern: %v", err)
		default:
			p.pattern, p.patText = re, d.Pattern.Text
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if d.Default == nil {
		bad(d.Pos, "default is required: every parameter has a value when an annotation leaves it out")
		return nil, errors.Join(errs...)
	}
	def, msg := decodeParamValue(p.typ, "default", d.Default.JSON)
	if msg == "" {
		msg = p.check("default", def)
	}
	if msg != "" {
		bad(d.Default.Pos, "%s", msg)
		return nil, errors.Join(errs...)
	}
	p.def = def
	return p, nil
}

// decodeParamValue decodes a parameter's JSON value as typ: a float64, an
// int64, a string or a bool; msg says what is wrong, naming the
// parameter.
func decodeParamValue(typ, name string, raw json.RawMessage) (v any, msg string) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return nil, fmt.Sprintf("%s: %v", name, err)
	}
	switch typ {
	case ParamNumber:
		n, ok := x.(json.Number)
		if !ok {
			return nil, fmt.Sprintf("%s must be a number, not %s", name, jsonKind(raw))
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return nil, fmt.Sprintf("%s: %s is out of range", name, n)
		}
		return f, ""
	case ParamInteger:
		n, ok := x.(json.Number)
		if !ok {
			return nil, fmt.Sprintf("%s must be an integer, not %s", name, jsonKind(raw))
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			if f, ferr := strconv.ParseFloat(string(n), 64); ferr == nil && f != math.Trunc(f) {
				return nil, fmt.Sprintf("%s must be an integer, not number %s", name, n)
			}
			return nil, fmt.Sprintf("%s: %s is out of range", name, n)
		}
		return i, ""
	case ParamBoolean:
		b, ok := x.(bool)
		if !ok {
			return nil, fmt.Sprintf("%s must be true or false, not %s", name, jsonKind(raw))
		}
		return b, ""
	case ParamString, ParamWindow:
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Sprintf("%s must be a string, not %s", name, jsonKind(raw))
		}
		if _, ok := windowSeconds(s); typ == ParamWindow && !ok {
			return nil, fmt.Sprintf("%s must look like last_15m, last_4h or last_1d, not %q", name, s)
		}
		return s, ""
	}
	return nil, fmt.Sprintf("%s: unknown type %s", name, typ)
}

// jsonKind names the kind of a JSON value for messages, as
// encoding/json does: string, number 1.5, bool, array, object, null.
func jsonKind(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	switch {
	case s == "" || s == "null":
		return "null"
	case s[0] == '"':
		return "string"
	case s[0] == '[':
		return "array"
	case s[0] == '{':
		return "object"
	case s == "true" || s == "false":
		return "bool"
	}
	return "number " + s
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case int64:
		return float64(v)
	}
	return 0
}

// check reports a decoded value outside the parameter's range, enum or
// pattern; name is how the message calls it.
func (p *templateParam) check(name string, v any) string {
	switch p.typ {
	case ParamNumber, ParamInteger:
		f := toFloat(v)
		switch {
		case p.min != nil && p.max != nil && (f < *p.min || f > *p.max):
			return fmt.Sprintf("%s must be between %s and %s, not %v", name, boundText(*p.min), boundText(*p.max), v)
		case p.min != nil && f < *p.min:
			return fmt.Sprintf("%s must be at least %s, not %v", name, boundText(*p.min), v)
		case p.max != nil && f > *p.max:
			return fmt.Sprintf("%s must be at most %s, not %v", name, boundText(*p.max), v)
		}
	case ParamWindow:
		sec, _ := windowSeconds(v.(string))
		if p.minW.sec > 0 && sec < p.minW.sec {
			return fmt.Sprintf("%s %s is shorter than %s allows (at least %s)", name, v, p.decl.Name, p.minW.text)
		}
		if p.maxW.sec > 0 && sec > p.maxW.sec {
			return fmt.Sprintf("%s %s is longer than %s allows (at most %s)", name, v, p.decl.Name, p.maxW.text)
		}
	case ParamString:
		s := v.(string)
		if len(p.enum) > 0 && !contains(p.enum, s) {
			return fmt.Sprintf("%s must be one of %s, not %q", name, strings.Join(p.enum, ", "), s)
		}
		if p.pattern != nil && !p.pattern.MatchString(s) {
			return fmt.Sprintf("%s %q does not match the pattern %s", name, s, p.patText)
		}
	}
	return ""
}

func boundText(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// templateLocRE matches the location text/template puts before its
// messages: "template: query:1:26: executing "query" at ".
var templateLocRE = regexp.MustCompile(`^template: [a-z_]+:[0-9]+(:[0-9]+)?: (executing "[a-z_]+" at )?`)

// templateMessage shortens text/template's errors to what is wrong:
// "template: query:1: function "foo" not defined" is `function "foo" not
// defined`.
func templateMessage(err error) string {
	return templateLocRE.ReplaceAllString(err.Error(), "")
}

// sortedErrors joins errs in the order of their positions.
func sortedErrors(errs []error) error {
	sort.SliceStable(errs, func(i, j int) bool {
		var a, b *Error
		if !errors.As(errs[i], &a) || !errors.As(errs[j], &b) {
			return false
		}
		return a.Pos.Line < b.Pos.Line || a.Pos.Line == b.Pos.Line && a.Pos.Column < b.Pos.Column
	})
	return errors.Join(errs...)
}

// defaultsJSON renders the declared defaults and the common ones as a
// JSON object.
func (k *TemplateKind) defaultsJSON() json.RawMessage {
	var b strings.Builder
	b.WriteString("{")
	for _, p := range k.params {
		v, _ := json.Marshal(p.def)
		fmt.Fprintf(&b, "%q: %s, ", p.decl.Name, v)
	}
	b.WriteString(`"require_full_window": false, ` + commonDefaults + "}")
	return json.RawMessage(b.String())
}

// sampleTarget is the record the templates are tried on at load.
func sampleTarget(record string) Target {
	return Target{
		Record: record, FullName: "com.example." + record, File: "schemas/sample.avdl", Line: 1,
		Env: Environment{Name: "prod", Metric: "esm.events.received", EnvTag: "prod"},
	}
}

// checkTemplates expands every template with the defaults on two sample
// records, so that a template that names an unknown variable, or a name
// that is the same for every record, is reported at load.
func (k *TemplateKind) checkTemplates() error {
	values := map[string]any{}
	for _, p := range k.params {
		values[p.decl.Name] = p.def
	}
	var errs []error
	a, errA := k.expand(sampleTarget("SampleEvent"), values)
	errs = append(errs, errA...)
	if len(errs) == 0 {
		b, _ := k.expand(sampleTarget("OtherEvent"), values)
		if a.name == b.name {
			errs = append(errs, errorf(k.decl.Name.Pos, "kinds.%s: name: %q is the same for every record; use {{.Record}} in it: a monitor's name, with its environment, is its identity", k.decl.Annotation, a.name))
		}
	}
	return sortedErrors(errs)
}

// expanded are a template kind's texts, expanded for one monitor.
type expanded struct {
	name, query, summary string
	thresholds           map[string]*float64
}

// expand executes the templates for target with the parameter values;
// each error is at the template's position in the declaration.
func (k *TemplateKind) expand(t Target, values map[string]any) (expanded, []error) {
	vars := templateData(t, values)
	var errs []error
	run := func(what string, tp *template.Template, pos Position) string {
		if tp == nil {
			return ""
		}
		var out limitedBuffer
		if err := tp.Execute(&out, vars); err != nil {
			msg := templateMessage(err)
			if strings.Contains(msg, "map has no entry for key") {
				msg += "; the templates know " + strings.Join(k.varNames(), ", ")
			}
			errs = append(errs, errorf(pos, "kinds.%s: %s: %s", k.decl.Annotation, what, msg))
			return ""
		}
		return out.String()
	}
	e := expanded{thresholds: map[string]*float64{}}
	e.name = strings.TrimSpace(run("name", k.name, k.decl.Name.Pos))
	e.query = strings.TrimSpace(run("query", k.query, k.decl.Query.Pos))
	if k.summary != nil {
		e.summary = strings.TrimSpace(run("summary", k.summary, k.decl.Summary.Pos))
	}
	for what, decl := range map[string]*DeclText{"warning": k.decl.Warning, "critical_recovery": k.decl.CriticalRecovery, "warning_recovery": k.decl.WarningRecovery} {
		tp := k.threshold[what]
		if tp == nil {
			continue
		}
		s := strings.TrimSpace(run(what, tp, decl.Pos))
		if s == "" {
			continue
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			errs = append(errs, errorf(decl.Pos, "kinds.%s: %s: expands to %q, which is not a number", k.decl.Annotation, what, s))
			continue
		}
		e.thresholds[what] = &f
	}
	if len(errs) == 0 && e.name == "" {
		errs = append(errs, errorf(k.decl.Name.Pos, "kinds.%s: name: expands to nothing", k.decl.Annotation))
	}
	if len(errs) == 0 && e.query == "" {
		errs = append(errs, errorf(k.decl.Query.Pos, "kinds.%s: query: expands to nothing", k.decl.Annotation))
	}
	return e, errs
}

// unboundedAction reports a range, template, define or block action in
// the templates of tp: a kind's texts are substitutions and conditions,
// and "{{range 1000000000}}{{end}}" would spin without writing a byte
// past the output bound.
func unboundedAction(tp *template.Template) string {
	if len(tp.Templates()) > 1 {
		return "define and block are not allowed in a kind's templates"
	}
	var walk func(n parse.Node) string
	walk = func(n parse.Node) string {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return ""
			}
			for _, c := range n.Nodes {
				if msg := walk(c); msg != "" {
					return msg
				}
			}
		case *parse.RangeNode:
			return "range is not allowed in a kind's templates"
		case *parse.TemplateNode:
			return "template is not allowed in a kind's templates"
		case *parse.IfNode:
			return firstNonEmpty(walk(n.List), walk(n.ElseList))
		case *parse.WithNode:
			return firstNonEmpty(walk(n.List), walk(n.ElseList))
		}
		return ""
	}
	return walk(tp.Tree.Root)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// limitedBuffer is a buffer that refuses to grow past maxTemplateOutput.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxTemplateOutput {
		return 0, fmt.Errorf("expands to more than %d bytes", maxTemplateOutput)
	}
	return b.Buffer.Write(p)
}

// templateNumber is a number parameter in a template: written as 0.05,
// 1048576, never 1.048576e+06, and compared by text/template's lt and gt
// as the float64 it is.
type templateNumber float64

// String renders the number in plain decimal form.
func (n templateNumber) String() string { return strconv.FormatFloat(float64(n), 'f', -1, 64) }

// templateData returns what the templates see: the built-in variables
// (TemplateVars) and the parameters.
func templateData(t Target, values map[string]any) map[string]any {
	eventType := strings.TrimPrefix(TagFilter("event_type", t.Record), "event_type:")
	envTag := strings.TrimPrefix(TagFilter("env", t.Env.EnvTag), "env:")
	vars := map[string]any{
		"Record": t.Record, "FullName": t.FullName, "EventType": eventType,
		"Env": t.Env.Name, "EnvTag": envTag, "Metric": t.Env.Metric,
		"Scope": "event_type:" + eventType + ",env:" + envTag,
	}
	for name, v := range values {
		if f, ok := v.(float64); ok {
			v = templateNumber(f)
		}
		vars[name] = v
	}
	return vars
}

// TemplateSpec is what an annotation of a template kind asks for,
// resolved: the monitor's type and its expanded query, summary and
// thresholds, and the parameters' values.
type TemplateSpec struct {
	// Kind is the annotation's name.
	Kind string
	// DeclPos is where the kind is declared, for messages about it.
	DeclPos Position
	// Type is the monitor's type as declared, e.g. "query alert".
	Type string
	// Query is the expanded query.
	Query string
	// Summary is the expanded summary; "" when the kind declares none.
	Summary string
	// Warning, CriticalRecovery and WarningRecovery are the expanded
	// thresholds; nil for none.
	Warning, CriticalRecovery, WarningRecovery *float64
	// Values are the parameters, by name: a float64 (number), an int64
	// (integer), a string (string, window) or a bool (boolean).
	Values map[string]any
}

// Annotation names the kind.
func (s *TemplateSpec) Annotation() string { return s.Kind }

// Annotation is the kind's annotation name.
func (k *TemplateKind) Annotation() string { return k.decl.Annotation }

// Defaults are the declared defaults of the kind's parameters and the
// built-in ones of the common parameters.
func (k *TemplateKind) Defaults() json.RawMessage { return k.defaults }

// splitLayer decodes a layer's own parameters and returns the layer with
// only the common ones, for mergeLayers. A layer that is not an object is
// returned as it is: decodeLayer reports it.
func (k *TemplateKind) splitLayer(l Layer) (common Layer, own map[string]any, err error) {
	raw := bytes.TrimSpace(l.Params)
	if len(raw) == 0 || raw[0] != '{' {
		return l, nil, nil
	}
	var fields map[string]json.RawMessage
	if jerr := json.Unmarshal(raw, &fields); jerr != nil {
		return l, nil, nil
	}
	var errs []error
	own = map[string]any{}
	keep := map[string]json.RawMessage{}
	for _, name := range sortedNames(fields) {
		v := fields[name]
		if isCommonParam(name) {
			keep[name] = v
			continue
		}
		p, ok := k.byName[name]
		if !ok {
			errs = append(errs, errorf(l.PosOf(name), "%s: unknown parameter %q for @%s; known parameters: %s", l.Source, name, k.decl.Annotation, strings.Join(k.paramNames(), ", ")))
			continue
		}
		if string(bytes.TrimSpace(v)) == "null" {
			continue
		}
		val, msg := decodeParamValue(p.typ, name, v)
		if msg == "" {
			msg = p.check(name, val)
		}
		if msg != "" {
			errs = append(errs, errorf(l.PosOf(name), "%s: %s", l.Source, msg))
			continue
		}
		own[name] = val
	}
	b, _ := json.Marshal(keep)
	common = l
	common.Params = b
	return common, own, errors.Join(errs...)
}

// varNames lists what the templates may use: the built-in variables and
// the kind's parameters, as .Name.
func (k *TemplateKind) varNames() []string {
	var names []string
	for _, n := range sortedNames(TemplateVars) {
		names = append(names, "."+n)
	}
	for _, p := range k.params {
		names = append(names, "."+p.decl.Name)
	}
	return names
}

// paramNames lists the kind's parameters and the common ones, sorted.
func (k *TemplateKind) paramNames() []string {
	names := append([]string{}, commonParamNames...)
	for _, p := range k.params {
		names = append(names, p.decl.Name)
	}
	sort.Strings(names)
	return names
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Check validates one layer on its own.
func (k *TemplateKind) Check(l Layer) error {
	common, _, err := k.splitLayer(l)
	p, cerr := decodeLayer[CommonParams](k.decl.Annotation, common)
	ck := &checker{at: l.PosOf, source: l.Source}
	p.check(ck)
	return sortedErrors(unjoinAll(errors.Join(err, cerr, ck.err())))
}

// unjoinAll flattens joined errors.
func unjoinAll(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoinAll(e)...)
		}
		return out
	}
	return []error{err}
}

// Spec merges the layers over the declared defaults and returns the
// monitor asked for target, with its templates expanded.
func (k *TemplateKind) Spec(t Target, layers []Layer) (Spec, error) {
	values := map[string]any{}
	for _, p := range k.params {
		values[p.decl.Name] = p.def
	}
	var (
		commonLayers []Layer
		errs         []error
	)
	for _, l := range layers {
		common, own, err := k.splitLayer(l)
		errs = append(errs, unjoinAll(err)...)
		for name, v := range own {
			values[name] = v
		}
		commonLayers = append(commonLayers, common)
	}
	p, m, err := mergeLayers[CommonParams](k.decl.Annotation, json.RawMessage(`{"require_full_window": false, `+commonDefaults+`}`), commonLayers)
	errs = append(errs, unjoinAll(err)...)
	if len(errs) > 0 {
		return Spec{}, sortedErrors(errs)
	}
	ck := &checker{at: m.at}
	p.check(ck)
	if err := ck.err(); err != nil {
		return Spec{}, err
	}
	common, err := p.resolve(m, k.noDataMinutes(values))
	if err != nil {
		return Spec{}, err
	}
	e, xerrs := k.expand(t, values)
	if len(xerrs) > 0 {
		// A template that expanded with the defaults at load can still
		// fail on this record's values: report it at the annotation, with
		// the template's position in the message.
		at := Position{File: t.File, Line: t.Line}
		if len(layers) > 0 {
			at = layers[len(layers)-1].Pos
		}
		var out []error
		for _, xe := range xerrs {
			out = append(out, errorf(at, "@%s: %v", k.decl.Annotation, xe))
		}
		return Spec{}, errors.Join(out...)
	}
	s := &TemplateSpec{
		Kind: k.decl.Annotation, DeclPos: k.decl.Pos, Type: strings.TrimSpace(k.decl.Type.Text),
		Query: e.query, Summary: e.summary, Values: values,
		Warning: e.thresholds["warning"], CriticalRecovery: e.thresholds["critical_recovery"], WarningRecovery: e.thresholds["warning_recovery"],
	}
	return Spec{Kind: k.decl.Annotation, Name: e.name, Target: t, Common: common, Params: s}, nil
}

// noDataMinutes is the no-data timeframe used when notify_no_data is on
// and none is set: twice the longest window parameter, else 60 minutes.
func (k *TemplateKind) noDataMinutes(values map[string]any) int64 {
	var longest int64
	for _, p := range k.params {
		if p.typ != ParamWindow {
			continue
		}
		if sec, ok := windowSeconds(values[p.decl.Name].(string)); ok && sec > longest {
			longest = sec
		}
	}
	if longest == 0 {
		return 60
	}
	return 2 * longest / 60
}
