// Package pipeline is wirewatch's vocabulary and plumbing: the Item that
// travels between stages, the subject, stream and bucket names (Subjects),
// the embedded NATS server (StartServer), stream setup (Setup), the stage
// runner that every stage and sink shares (Stage, Handler, Permanent), the
// publisher of parsed items and WaitIdle for runs that must finish.
//
// The stages themselves live in subpackages (pipeline/dedup, pipeline/tag)
// or, when small, here (TagStage). This package does not fetch, parse or
// decide anything about items; it moves them reliably: outputs are
// published with Nats-Msg-Id before the input is acked, and a message that
// keeps failing goes to a dead-letter subject, never silently away.
package pipeline
