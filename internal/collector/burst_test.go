package collector

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeSender struct {
	mu   sync.Mutex
	sent []Event
	err  error
}

func (s *fakeSender) SendEvent(_ context.Context, e Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.sent = append(s.sent, e)
	return nil
}

func TestBurstReporter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sender := &fakeSender{}
	b := NewBurstReporter(sender, BurstOptions{Env: "prod", Threshold: 3, Window: time.Minute, Cooldown: 10 * time.Minute,
		Now: func() time.Time { return now }})
	ctx := context.Background()

	// Below the threshold: nothing.
	b.Rejected("AddToCartEvent", ReasonSchema, "quantity: expected int, got string")
	b.Rejected("AddToCartEvent", ReasonSchema, "quantity: expected int, got string")
	assert.Zero(t, b.Flush(ctx))

	// A burst: one event, aggregated, tagged for routing.
	for range 4 {
		b.Rejected("AddToCartEvent", ReasonSchema, "quantity: expected int, got string")
	}
	b.Rejected("AddToCartEvent", ReasonMalformed, "unexpected end of input")
	b.Rejected("SearchPerformed", ReasonSchema, "query: expected string, got number")
	assert.Equal(t, 1, b.Flush(ctx))
	require.Len(t, sender.sent, 1)
	e := sender.sent[0]
	assert.Equal(t, "esm: burst of rejected AddToCartEvent events in prod", e.Title)
	assert.Equal(t, []string{"event_type:AddToCartEvent", "env:prod", "source:esm", "reason:malformed", "reason:schema"}, e.Tags)
	assert.Contains(t, e.Text, "esm rejected 5 AddToCartEvent events")
	assert.Contains(t, e.Text, "- schema: 4\n")
	assert.Contains(t, e.Text, "- quantity: expected int, got string\n")
	assert.Equal(t, "warning", e.AlertType)
	assert.Equal(t, "esm-rejections-prod-AddToCartEvent", e.AggregationKey)

	// Another burst within the cooldown waits, then is reported summed.
	for range 3 {
		b.Rejected("AddToCartEvent", ReasonTooLarge, "body exceeds the limit")
	}
	now = now.Add(time.Minute)
	assert.Zero(t, b.Flush(ctx))
	now = now.Add(10 * time.Minute)
	assert.Equal(t, 1, b.Flush(ctx))
	assert.Contains(t, sender.sent[1].Text, "esm rejected 3 AddToCartEvent events in 1 window(s)")
	assert.Zero(t, b.Flush(ctx))
}

func TestBurstReporterTextLimitAndErrors(t *testing.T) {
	sender := &fakeSender{}
	b := NewBurstReporter(sender, BurstOptions{Env: "prod", Threshold: 1})
	for i := range maxSamples {
		b.Rejected("X", ReasonSchema, strings.Repeat("x", 1000)+string(rune('a'+i)))
	}
	require.Equal(t, 1, b.Flush(context.Background()))
	text := sender.sent[0].Text
	assert.LessOrEqual(t, len([]rune(text)), MaxEventText)
	assert.True(t, strings.HasSuffix(text, "… (truncated)"))

	sender.err = errors.New("boom")
	b = NewBurstReporter(sender, BurstOptions{Env: "prod", Threshold: 1})
	b.Rejected("X", ReasonSchema, "x")
	assert.Zero(t, b.Flush(context.Background()))
}
