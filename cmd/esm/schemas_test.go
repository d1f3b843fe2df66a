package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/idl"
)

// The example schemas show each form of annotation that schemas/README.md
// describes; this keeps the examples and that description in step.
func TestExampleSchemasAnnotations(t *testing.T) {
	types := map[string]*idl.Schema{}
	for _, name := range []string{"cart.avdl", "checkout.avdl", "search.avdl", "catalog.avdl", "payments.avdl"} {
		res, err := idl.LoadFile(filepath.Join("..", "..", "schemas", name), idl.Options{})
		require.NoError(t, err, name)
		for _, typ := range res.Types {
			types[typ.FullName()] = typ
		}
	}
	str := func(v *idl.Value) string {
		if v == nil || v.Kind != idl.StringValue {
			return ""
		}
		return v.Str
	}
	deviations := func(typ *idl.Schema) int64 {
		v := typ.Prop("traffic_anomaly_monitor").Member("deviations")
		require.NotNil(t, v, "%s: deviations", typ.FullName())
		return v.Int
	}

	add := types["com.example.shop.AddToCartEvent"]
	require.NotNil(t, add)
	assert.Equal(t, "team-cart", str(add.Prop("alert_channel")), "string form")
	assert.Equal(t, int64(3), deviations(add))

	remove := types["com.example.shop.RemoveFromCartEvent"]
	require.NotNil(t, remove)
	channel := remove.Prop("alert_channel")
	require.NotNil(t, channel)
	assert.Equal(t, idl.ObjectValue, channel.Kind, "object form")
	assert.Equal(t, "slack-cart", str(channel.Member("warning")))
	assert.Equal(t, "pagerduty-cart", str(channel.Member("critical")))

	lineItem := types["com.example.shop.LineItem"]
	require.NotNil(t, lineItem)
	assert.Nil(t, lineItem.Prop("alert_channel"), "LineItem has no monitor annotations")
	assert.Nil(t, lineItem.Prop("traffic_anomaly_monitor"))

	search := types["com.example.search.SearchPerformed"]
	require.NotNil(t, search, "schema-mode file")
	assert.Equal(t, "team-search", str(search.Prop("alert_channel")))
	assert.NotEmpty(t, search.Doc)

	// catalog.avdl: a record with three kinds, each with its own parameters,
	// and a protocol-level default for one kind.
	viewed := types["com.example.catalog.ProductViewed"]
	require.NotNil(t, viewed)
	assert.Equal(t, int64(3), deviations(viewed))
	require.NotNil(t, viewed.Prop("traffic_volume_monitor"))
	assert.Nil(t, viewed.Prop("traffic_volume_monitor").Member("window"), "all defaults")
	require.NotNil(t, viewed.Prop("bad_data_monitor").Member("warning"))
	imported := types["com.example.catalog.ProductImported"]
	require.NotNil(t, imported)
	require.NotNil(t, imported.Prop("traffic_volume_monitor").Member("above"), "the other side of the threshold")
	assert.Equal(t, idl.ObjectValue, imported.Prop("alert_channel").Kind)
	price := types["com.example.catalog.PriceChanged"]
	require.NotNil(t, price)
	assert.Nil(t, price.Prop("bad_data_monitor"), "the protocol's @bad_data_monitor is a default, not a monitor")

	// payments.avdl: the forecast and log monitors, two kinds on one
	// record, the protocol's channels by severity.
	num := func(v *idl.Value) float64 {
		require.NotNil(t, v)
		if v.Kind == idl.IntValue {
			return float64(v.Int)
		}
		return v.Float
	}
	authorized := types["com.example.payments.PaymentAuthorized"]
	require.NotNil(t, authorized)
	assert.Equal(t, 100.0, num(authorized.Prop("traffic_forecast_monitor").Member("below")))
	assert.Equal(t, "next_1d", str(authorized.Prop("traffic_forecast_monitor").Member("horizon")))
	assert.Equal(t, 5.0, num(authorized.Prop("log_monitor").Member("above")))
	assert.Nil(t, authorized.Prop("alert_channel"), "the protocol's channels")
	refund := types["com.example.payments.RefundIssued"]
	require.NotNil(t, refund)
	assert.Equal(t, "seasonal", str(refund.Prop("traffic_forecast_monitor").Member("algorithm")))
	assert.Contains(t, str(refund.Prop("log_monitor").Member("query")), "{event_type}")
	assert.Equal(t, "team-refunds", str(refund.Prop("alert_channel")))
}
