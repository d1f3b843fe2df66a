// Package webhook is esm's GitHub webhook receiver: an http.Handler,
// routed with chi, that serves
//
//	POST /webhook  a GitHub delivery
//	GET  /healthz  200 "ok" while the receiver accepts work
//
// A delivery is handled in this order:
//
//  1. The body is read up to Config.MaxBodyBytes (413 beyond).
//  2. X-Hub-Signature-256 must be "sha256=" and the hex HMAC-SHA256 of the
//     raw body with the shared secret, compared in constant time; a missing
//     or bad signature gets 401. The secret is never logged.
//  3. The event named by X-GitHub-Event is decoded with go-github's
//     ParseWebHook. "ping" gets 200. "issue_comment" with action
//     "created" on a pull request, and "pull_request" with action
//     "opened", "synchronize" or "reopened", are queued for the Handler
//     and get 202 at once; every other event or action gets 200 and
//     nothing happens.
//  4. A delivery whose X-GitHub-Delivery was seen recently (a bounded
//     cache with a time to live) gets 200 and is dropped. The delivery
//     ID is not signed, so a captured delivery could be sent again under
//     a new one: a comment is also dropped, with a log line saying why,
//     when its created_at (in the signed body) is more than
//     Config.MaxCommentAge before the delivery arrives, and when a
//     comment with the same id was handed off already.
//  5. A bounded pool of workers calls the Handler in the background, so
//     that a slow plan or apply never makes GitHub time out and
//     redeliver. When the queue is full the answer is 503, so that the
//     delivery can be redelivered later, and neither the delivery nor its
//     comment is remembered as seen.
//
// Receiver.Shutdown stops accepting deliveries and waits for the queued
// ones to finish; when it gives up waiting, the handlers' contexts end
// with the cause ErrShutdown.
package webhook
