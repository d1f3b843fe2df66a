// Package webhook will hold esm's GitHub webhook receiver: an
// http.Handler that checks each delivery's signature against the shared
// secret, drops deliveries it has already seen, decodes the event (pull
// requests and their comments, for instance) and hands it off to a handler
// interface.
//
// The handler answers GitHub quickly and the work runs asynchronously, so
// that a slow plan or apply never makes GitHub time out and redeliver.
//
// The package holds no code yet.
package webhook
