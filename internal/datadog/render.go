package datadog

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

// Render returns the Datadog monitor that spec asks for: its name, type,
// query, message, tags and options, as Datadog stores them. The identity
// tags (esm-<env>, esm_record:, esm_file:) are the caller's. Each kind has
// one render function, in a file of its own that registers it; a kind
// without one is an error.
func Render(spec annotations.Spec) (monitor.Definition, error) {
	r, ok := renderers[reflect.TypeOf(spec.Params)]
	if !ok {
		return monitor.Definition{}, fmt.Errorf("the Datadog backend has no monitor for @%s", spec.Kind)
	}
	return r(&spec)
}

// renderers are the render functions of the kinds, by the type of their
// parameters (spec.Params).
var renderers = map[reflect.Type]func(*annotations.Spec) (monitor.Definition, error){}

// register makes fn the render function of the kind whose parameters are
// a P.
func register[P annotations.Params](fn func(*annotations.Spec, P) (monitor.Definition, error)) {
	var zero P
	renderers[reflect.TypeOf(zero)] = func(s *annotations.Spec) (monitor.Definition, error) { return fn(s, s.Params.(P)) }
}

// base returns the parts every kind's monitor shares: the name, the tags,
// the priority and the options of the common parameters.
func base(s *annotations.Spec, typ, query string) monitor.Definition {
	c := &s.Common
	return monitor.Definition{
		Name:     s.Name,
		Type:     typ,
		Query:    query,
		Tags:     s.Tags(),
		Priority: c.Priority,
		Options: monitor.Options{
			NotifyNoData:      c.NotifyNoData,
			NoDataTimeframe:   c.NoDataTimeframe,
			RenotifyInterval:  c.RenotifyInterval,
			EvaluationDelay:   c.EvaluationDelay,
			IncludeTags:       c.IncludeTags,
			RequireFullWindow: c.RequireFullWindow,
			NotifyAudit:       c.NotifyAudit,
			EscalationMessage: c.EscalationMessage,
			TimeoutH:          c.TimeoutH,
		},
	}
}

// scope returns the filter of the record's count in a query, in the form
// Datadog stores the tags: the collector's event_type:AddToCartEvent is
// stored, and only matches, as event_type:addtocartevent.
func scope(t *annotations.Target) string {
	return annotations.TagFilter("event_type", t.Record) + "," + annotations.TagFilter("env", t.Env.EnvTag)
}

// number renders a parameter in a query or a message: 3, 2.5, 0.05.
func number(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
