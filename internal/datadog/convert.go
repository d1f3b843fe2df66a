package datadog

import (
	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	"github.com/esm-dev/esm/internal/monitor"
)

// fromAPI converts a monitor Datadog returned into esm's view of it:
// the fields and options esm owns, with Datadog's defaults for options it
// left out, and the fingerprint of what esm last wrote taken out of the
// tags (monitor.SplitFingerprintTag). A monitor of a type the client does
// not know still converts.
func fromAPI(m *datadogV1.Monitor) monitor.Monitor {
	out := monitor.Monitor{ID: m.GetId()}
	out.Name = m.GetName()
	out.Type = string(m.Type)
	if out.Type == "" && m.UnparsedObject != nil {
		// The client keeps a type it does not know only in the raw object.
		out.Type, _ = m.UnparsedObject["type"].(string)
	}
	out.Query = m.Query
	out.Message = m.GetMessage()
	out.Tags, out.Fingerprint = monitor.SplitFingerprintTag(append([]string{}, m.Tags...))
	if p := m.Priority.Get(); p != nil {
		out.Priority = *p
	}
	out.Options = optionsFromAPI(m.Options)
	return out
}

func optionsFromAPI(o *datadogV1.MonitorOptions) monitor.Options {
	// Datadog's defaults, for a monitor stored without options.
	out := monitor.Options{IncludeTags: true}
	if o == nil {
		return out
	}
	if th := o.Thresholds; th != nil {
		out.Thresholds = monitor.Thresholds{
			Critical:         th.Critical,
			CriticalRecovery: th.CriticalRecovery.Get(),
			Warning:          th.Warning.Get(),
			WarningRecovery:  th.WarningRecovery.Get(),
		}
	}
	if w := o.ThresholdWindows; w != nil {
		trigger, recovery := stringOf(w.TriggerWindow), stringOf(w.RecoveryWindow)
		if trigger != "" || recovery != "" {
			out.ThresholdWindows = &monitor.ThresholdWindows{TriggerWindow: trigger, RecoveryWindow: recovery}
		}
	}
	out.NotifyNoData = o.GetNotifyNoData()
	out.NoDataTimeframe = int64Of(o.NoDataTimeframe)
	out.RenotifyInterval = int64Of(o.RenotifyInterval)
	out.EvaluationDelay = int64Of(o.EvaluationDelay)
	out.NewGroupDelay = int64Of(o.NewGroupDelay)
	if o.IncludeTags != nil {
		out.IncludeTags = *o.IncludeTags
	}
	out.RequireFullWindow = o.GetRequireFullWindow()
	out.NotifyAudit = o.GetNotifyAudit()
	out.EscalationMessage = o.GetEscalationMessage()
	out.TimeoutH = int64Of(o.TimeoutH)
	return out
}

func int64Of(v datadog.NullableInt64) int64 {
	if p := v.Get(); p != nil {
		return *p
	}
	return 0
}

func stringOf(v datadog.NullableString) string {
	if p := v.Get(); p != nil {
		return *p
	}
	return ""
}

// newMonitor returns the CreateMonitor body for m, its fingerprint among
// the tags (esm_fingerprint:...).
func newMonitor(mon *monitor.Monitor) datadogV1.Monitor {
	m := &mon.Definition
	// Struct literals, not the client's constructors: those add
	// draft_status and synthetics options esm does not own.
	body := &datadogV1.Monitor{Query: m.Query, Type: datadogV1.MonitorType(m.Type)}
	body.SetName(m.Name)
	body.SetMessage(m.Message)
	body.Tags = monitor.WithFingerprintTag(m.Tags, mon.Fingerprint)
	if m.Priority != 0 {
		body.SetPriority(m.Priority)
	}
	body.SetOptions(options(&m.Options))
	return *body
}

// updateRequest returns the UpdateMonitor body for m: every owned field,
// the tags with m's fingerprint (a PUT replaces the tags: without a
// fingerprint the monitor keeps none), priority null when m has none (a
// PUT keeps the top-level fields it does not carry), and the whole
// options.
func updateRequest(mon *monitor.Monitor) datadogV1.MonitorUpdateRequest {
	m := &mon.Definition
	body := &datadogV1.MonitorUpdateRequest{}
	body.SetName(m.Name)
	body.SetType(datadogV1.MonitorType(m.Type))
	body.SetQuery(m.Query)
	body.SetMessage(m.Message)
	body.Tags = monitor.WithFingerprintTag(m.Tags, mon.Fingerprint)
	if m.Priority != 0 {
		body.SetPriority(m.Priority)
	} else {
		body.SetPriorityNil()
	}
	body.SetOptions(options(&m.Options))
	return *body
}

// options returns the monitor options for o. Datadog keeps only what it is
// sent (and replaces options as a whole on update), so the options esm
// leaves unset are left out: no_data_timeframe without notify_no_data,
// zero intervals and delays, an empty escalation message.
func options(o *monitor.Options) datadogV1.MonitorOptions {
	out := &datadogV1.MonitorOptions{}
	th := o.Thresholds
	if th.Critical != nil || th.CriticalRecovery != nil || th.Warning != nil || th.WarningRecovery != nil {
		t := &datadogV1.MonitorThresholds{}
		t.Critical = th.Critical
		if th.CriticalRecovery != nil {
			t.SetCriticalRecovery(*th.CriticalRecovery)
		}
		if th.Warning != nil {
			t.SetWarning(*th.Warning)
		}
		if th.WarningRecovery != nil {
			t.SetWarningRecovery(*th.WarningRecovery)
		}
		out.SetThresholds(*t)
	}
	if w := o.ThresholdWindows; w != nil {
		tw := &datadogV1.MonitorThresholdWindowOptions{}
		tw.SetTriggerWindow(w.TriggerWindow)
		tw.SetRecoveryWindow(w.RecoveryWindow)
		out.SetThresholdWindows(*tw)
	}
	out.SetNotifyNoData(o.NotifyNoData)
	if o.NotifyNoData && o.NoDataTimeframe > 0 {
		out.SetNoDataTimeframe(o.NoDataTimeframe)
	}
	if o.RenotifyInterval > 0 {
		out.SetRenotifyInterval(o.RenotifyInterval)
	}
	out.SetEvaluationDelay(o.EvaluationDelay)
	if o.NewGroupDelay > 0 {
		out.SetNewGroupDelay(o.NewGroupDelay)
	}
	out.SetIncludeTags(o.IncludeTags)
	out.SetRequireFullWindow(o.RequireFullWindow)
	out.SetNotifyAudit(o.NotifyAudit)
	if o.EscalationMessage != "" {
		out.SetEscalationMessage(o.EscalationMessage)
	}
	if o.TimeoutH > 0 {
		out.SetTimeoutH(o.TimeoutH)
	}
	return *out
}
