// Command esm reads Avro IDL schemas whose records carry monitor
// annotations, such as @alert_channel and @traffic_anomaly_monitor.
//
// Run "esm --help" for the list of commands. The exit status is 0 on
// success and 1 on any error (an invalid schema, a file that cannot be read
// or written, a usage error); 2 only from "esm plan --detailed-exitcode"
// when the plan has changes.
package main

import "os"

// version is the release version, set at build time with
// -ldflags "-X main.version=v1.2.3". It stays "dev" otherwise.
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
