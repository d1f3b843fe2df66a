package monitor

// Definition is the part of a monitor that esm owns, in the shape of
// Datadog's monitor API: what a backend renders a spec into, what the
// Datadog store sends, and what the local state file keeps. Owned lists
// its fields once, for diffs, plans and the state file.
type Definition struct {
	Name    string
	Type    string // "query alert", "log alert"
	Query   string
	Message string
	// Tags are lowercase and sorted, as Datadog stores them.
	Tags []string
	// Priority is 1 (highest) to 5; 0 means none.
	Priority int64
	Options  Options
	// Rule is set for a monitor of the Prometheus backend, whose owned
	// fields are the rule's (RuleFields); nil for Datadog's.
	Rule *AlertRule
}

// Options are the monitor options esm sets. Datadog replaces options as a
// whole on update, so esm always sends all of them.
type Options struct {
	Thresholds       Thresholds
	ThresholdWindows *ThresholdWindows
	NotifyNoData     bool
	// NoDataTimeframe is in minutes; Datadog keeps it only with NotifyNoData.
	NoDataTimeframe int64
	// RenotifyInterval is in minutes; 0 means never renotify.
	RenotifyInterval int64
	// EvaluationDelay is in seconds.
	EvaluationDelay int64
	// NewGroupDelay is in seconds.
	NewGroupDelay     int64
	IncludeTags       bool
	RequireFullWindow bool
	NotifyAudit       bool
	EscalationMessage string
	// TimeoutH resolves a triggered monitor after so many hours without data; 0 means never.
	TimeoutH int64
}

// Thresholds of a monitor; nil means unset.
type Thresholds struct {
	Critical         *float64
	CriticalRecovery *float64
	Warning          *float64
	WarningRecovery  *float64
}

// ThresholdWindows are the trigger and recovery windows of an anomaly monitor.
type ThresholdWindows struct {
	TriggerWindow  string
	RecoveryWindow string
}

// Float returns a pointer to f, for thresholds.
func Float(f float64) *float64 { return &f }

// AlertRule is a Prometheus alerting rule: what the Prometheus backend
// renders a spec into, with the recording rules its expression reads.
// A Definition with a Rule is a Prometheus monitor, and only the rule's
// fields are owned (RuleFields); the Datadog fields stay unset.
type AlertRule struct {
	// Alert is the rule's alert name, e.g. EsmTrafficVolume.
	Alert string
	Expr  string
	// For is how long the expression must hold before the alert fires, as
	// a Prometheus duration ("15m"); "" fires at once.
	For         string
	Labels      map[string]string
	Annotations map[string]string
	// Records are the recording rules the expression reads, in the order
	// they are evaluated; derived from the spec as the alert is.
	Records []RecordingRule
}

// RecordingRule is a Prometheus recording rule.
type RecordingRule struct {
	Record string
	Expr   string
	Labels map[string]string
}
