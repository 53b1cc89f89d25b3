// Package sinks holds wirewatch's destinations for tagged items: one file
// per destination. Each sink makes one delivery attempt per Write and is
// idempotent by item version, so a redelivered message is stored once;
// retries, backoff and dead letters come from the durable consumer that
// drives it (pipeline.NewStage with pipeline.SinkConfig).
//
// Sinks never parse feeds or decide duplicates; they store what the
// pipeline decided.
package sinks
