// Package annotations is esm's annotation vocabulary: the monitor
// annotations a schema author writes on an Avro IDL record, such as
// @alert_channel("team-cart") or @traffic_anomaly_monitor({"deviations": 3}),
// their parameters, their defaults and their validation, and the Datadog
// monitor each one produces.
//
// A monitor kind is one small type implementing Kind, registered by its
// annotation name; adding a kind (a threshold or a no-traffic monitor, say)
// touches nothing else. Parameters come in layers — built-in defaults, the
// configuration file, the environment's section of it, the protocol's
// annotation, the record's annotation — each overriding the ones before,
// and every problem is reported at the position of the layer it comes
// from.
//
// The package depends only on the standard library: annotation values
// arrive as JSON, positions as file, line and column.
package annotations
