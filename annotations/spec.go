package annotations

import (
	"fmt"
	"strings"
)

// Spec is what one monitor annotation asks for, decoded, merged over its
// layers, defaulted and checked: the kind, the monitor's name, the record
// it watches, the notification settings every kind shares and the kind's
// own parameters. It names no vendor: a backend renders it into its own
// resource (internal/datadog into a Datadog monitor).
type Spec struct {
	// Kind is the annotation's name, e.g. "traffic_volume_monitor".
	Kind string
	// Name is the monitor's name, e.g. "Traffic Volume with CartViewed":
	// with the environment, the monitor's identity in every backend.
	Name string
	// Target is the record and environment the monitor is for.
	Target Target
	// Pos is where the annotation is written.
	Pos Position
	// Common holds the parameters every kind takes.
	Common Common
	// Params holds the kind's own parameters: *TrafficAnomalySpec,
	// *TrafficVolumeSpec, ...
	Params Params
}

// Params are the parameters of one kind, resolved: every field has its
// value. The kinds of this package implement it.
type Params interface {
	// Annotation names the kind the parameters belong to.
	Annotation() string
}

// Common are the notification parameters every kind takes, resolved.
type Common struct {
	// Priority is 1 (highest) to 5; 0 means none.
	Priority int64
	// Tags are the annotation's own tags, as written.
	Tags []string
	// Message is the annotation's text for the notification, trimmed.
	Message string
	// NotifyNoData notifies when the data stops arriving.
	NotifyNoData bool
	// NoDataTimeframe is the minutes without data before a no-data
	// notification; set whenever NotifyNoData is.
	NoDataTimeframe int64
	// RenotifyInterval is the minutes after which an unresolved alert
	// notifies again; 0 never.
	RenotifyInterval int64
	// EscalationMessage is sent with renotifications.
	EscalationMessage string
	// EvaluationDelay delays evaluation by so many seconds.
	EvaluationDelay int64
	// RequireFullWindow waits for a full window of data.
	RequireFullWindow bool
	// IncludeTags puts the triggering tags in the notification title.
	IncludeTags bool
	// NotifyAudit notifies the channels when the monitor is modified.
	NotifyAudit bool
	// TimeoutH resolves an alert after so many hours without data; 0 never.
	TimeoutH int64
}

// KindTagPrefix starts the tag that names a monitor's kind
// (esm_kind:traffic_volume). The traffic anomaly monitor, esm's first
// kind, has none, so that upgrading esm updates none of the anomaly
// monitors already made.
const KindTagPrefix = "esm_kind:"

// KindTag returns the tag that names the kind of an annotation
// ("esm_kind:traffic_volume" for traffic_volume_monitor), or "" for the
// traffic anomaly monitor.
func KindTag(annotation string) string {
	if annotation == TrafficAnomalyAnnotation {
		return ""
	}
	return KindTagPrefix + strings.TrimSuffix(annotation, "_monitor")
}

// Tags returns the monitor's tags, normalised as NormalizeTags does:
// managed_by:esm, the record's event_type (a query monitor's query tag)
// and the environment's env tag (in the form their filters take), the
// kind's tag, the environment's tags and the annotation's.
func (s *Spec) Tags() []string {
	t := s.Target
	subject := TagFilter("event_type", t.Record)
	if t.Query != nil {
		subject = TagFilter("query", t.Query.Name)
	}
	tags := []string{ManagedByTag, subject, TagFilter("env", t.Env.EnvTag)}
	if k := KindTag(s.Kind); k != "" {
		tags = append(tags, k)
	}
	tags = append(append(tags, t.Env.Tags...), s.Common.Tags...)
	return NormalizeTags(tags)
}

// Message assembles a monitor's message: the backend's summary of what
// happened, the record's doc comment (a query's description), the
// annotation's message, the schema (or query file) the monitor comes
// from (the file, not the line: moving an annotation must not change the
// monitor), the notification handles the backend rendered from the
// channels, and the environment's footer, in paragraphs.
func (s *Spec) Message(summary, handles string) string {
	t := s.Target
	var msg strings.Builder
	msg.WriteString(summary)
	if t.Doc != "" {
		msg.WriteString("\n\n" + t.Doc)
	}
	if m := strings.TrimSpace(s.Common.Message); m != "" {
		msg.WriteString("\n\n" + m)
	}
	if t.Query != nil {
		fmt.Fprintf(&msg, "\n\nQuery: %s in %s", t.Query.Name, t.File)
	} else {
		fmt.Fprintf(&msg, "\n\nSchema: %s in %s", t.FullName, t.File)
	}
	if handles != "" {
		msg.WriteString("\n\n" + handles)
	}
	if f := strings.TrimSpace(t.Env.MessageFooter); f != "" {
		msg.WriteString("\n\n" + f)
	}
	return msg.String()
}
