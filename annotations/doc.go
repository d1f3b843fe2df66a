// Package annotations will hold esm's annotation vocabulary: the monitor
// annotations a schema author writes on an Avro IDL record, such as
// @alert_channel("team-cart") or @traffic_anomaly_monitor({"deviations": 3}),
// with their parameters, their defaults and their validation.
//
// It will read the annotations of a parsed schema (Avro keeps them as
// custom properties of the record) into typed values, filling in defaults
// and reporting every invalid annotation with the position of its source,
// so that monitors can be derived from them. It depends only on the
// standard library.
//
// The package holds no code yet; schemas/README.md in the repository
// describes the annotations the example schemas use.
package annotations
