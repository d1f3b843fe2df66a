package collector

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Event is a notable data situation, posted as a Datadog event.
type Event struct {
	// Title is the event's one-line summary.
	Title string
	// Text is the event's body, at most MaxEventText characters.
	Text string
	// Tags route the event: event_type:, env:, source:esm, reason:.
	Tags []string
	// AggregationKey groups the events of one situation.
	AggregationKey string
	// AlertType is "warning" or "info".
	AlertType string
}

// EventSender posts events. It is declared here, where it is used;
// internal/datadog implements it on Datadog's events API.
type EventSender interface {
	SendEvent(ctx context.Context, e Event) error
}

// MaxEventText is the longest event text Datadog accepts, in characters.
const MaxEventText = 4000

// BurstOptions configure a BurstReporter.
type BurstOptions struct {
	// Env is the value of the env tag.
	Env string
	// Threshold is the number of rejections of one type within one window
	// that makes a burst (default 100).
	Threshold int
	// Window is the length of a counting window (default 1m).
	Window time.Duration
	// Cooldown is the least time between two events about one type
	// (default 10m); bursts in between are summed into the next event.
	Cooldown time.Duration
	// Log receives failures to send; nil discards them.
	Log *slog.Logger
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// maxSamples is how many distinct rejection details an event quotes.
const maxSamples = 10

// BurstReporter turns bursts of rejections of an event type into Datadog
// events: rejections are counted per type and window, and a type over the
// threshold gets one event, at most once per cooldown, with the counts
// per reason and sample errors. It is a RejectionObserver.
type BurstReporter struct {
	sender EventSender
	opts   BurstOptions

	mu     sync.Mutex
	byType map[string]*burst
}

// burst is the rejections of one type.
type burst struct {
	window   int // rejections in the current window
	pending  int // rejections in bursts not yet reported
	bursts   int // windows over the threshold not yet reported
	reasons  map[Reason]int
	samples  []string
	lastSent time.Time
}

// NewBurstReporter returns a reporter sending through sender.
func NewBurstReporter(sender EventSender, opts BurstOptions) *BurstReporter {
	if opts.Threshold <= 0 {
		opts.Threshold = 100
	}
	if opts.Window <= 0 {
		opts.Window = time.Minute
	}
	if opts.Cooldown <= 0 {
		opts.Cooldown = 10 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &BurstReporter{sender: sender, opts: opts, byType: map[string]*burst{}}
}

// Rejected counts one rejection. eventType is a declared type or
// UnknownType, so the map stays small.
func (b *BurstReporter) Rejected(eventType string, reason Reason, detail string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.byType[eventType]
	if s == nil {
		s = &burst{reasons: map[Reason]int{}}
		b.byType[eventType] = s
	}
	s.window++
	s.reasons[reason]++
	if len(s.samples) < maxSamples && detail != "" {
		for _, x := range s.samples {
			if x == detail {
				return
			}
		}
		s.samples = append(s.samples, detail)
	}
}

// Run closes a window every Window until ctx is done, then closes the
// last one with a short grace period to send its events.
func (b *BurstReporter) Run(ctx context.Context) {
	t := time.NewTicker(b.opts.Window)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			b.Flush(fctx)
			cancel()
			return
		case <-t.C:
			b.Flush(ctx)
		}
	}
}

// Flush closes the current window and sends an event for each type whose
// bursts are due. It returns the number of events sent.
func (b *BurstReporter) Flush(ctx context.Context) int {
	now := b.opts.Now()
	var due []Event
	b.mu.Lock()
	for _, name := range slices.Sorted(maps.Keys(b.byType)) {
		s := b.byType[name]
		if s.window >= b.opts.Threshold {
			s.bursts++
			s.pending += s.window
		} else if s.bursts == 0 {
			// Below the threshold and nothing pending: forget the window.
			clear(s.reasons)
			s.samples = s.samples[:0]
		}
		s.window = 0
		if s.bursts > 0 && now.Sub(s.lastSent) >= b.opts.Cooldown {
			due = append(due, b.event(name, s))
			s.lastSent = now
			s.bursts, s.pending = 0, 0
			clear(s.reasons)
			s.samples = s.samples[:0]
		}
	}
	b.mu.Unlock()
	sent := 0
	for _, e := range due {
		if err := b.sender.SendEvent(ctx, e); err != nil {
			b.opts.Log.Error("send Datadog event", "title", e.Title, "error", err.Error())
			continue
		}
		sent++
	}
	return sent
}

// event renders the event of a type's pending bursts.
func (b *BurstReporter) event(eventType string, s *burst) Event {
	var t strings.Builder
	fmt.Fprintf(&t, "esm rejected %d %s events in %d window(s) of %s over the threshold of %d rejections (env %s).\n\nBy reason:\n",
		s.pending, eventType, s.bursts, b.opts.Window, b.opts.Threshold, b.opts.Env)
	tags := []string{"event_type:" + eventType, "env:" + b.opts.Env, "source:esm"}
	for _, r := range Reasons {
		if n := s.reasons[r]; n > 0 {
			fmt.Fprintf(&t, "- %s: %d\n", r, n)
			tags = append(tags, "reason:"+r)
		}
	}
	if len(s.samples) > 0 {
		t.WriteString("\nSample errors:\n")
		for _, x := range s.samples {
			fmt.Fprintf(&t, "- %s\n", x)
		}
	}
	key := "esm-rejections-" + b.opts.Env + "-" + eventType
	if len(key) > 100 {
		key = key[:100]
	}
	return Event{
		Title:          fmt.Sprintf("esm: burst of rejected %s events in %s", eventType, b.opts.Env),
		Text:           TruncateText(t.String(), MaxEventText),
		Tags:           tags,
		AggregationKey: key,
		AlertType:      "warning",
	}
}

// truncNote ends a text cut to fit.
const truncNote = "\n… (truncated)"

// TruncateText cuts s to at most max characters, ending a cut text with
// a note that says so.
func TruncateText(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	keep := max - utf8.RuneCountInString(truncNote)
	i, n := 0, 0
	for i = range s {
		if n == keep {
			break
		}
		n++
	}
	return s[:i] + truncNote
}
