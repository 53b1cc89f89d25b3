// Package dedup is the dedup stage of the pipeline. It decides, for every
// parsed item, which of three kinds of sameness applies:
//
//  1. the same item again: a re-poll (same ID and version: dropped), an
//     edit (same ID, new version: Update), or an exact copy under another
//     ID (same normalised text hash, or same raw GUID and canonical URL);
//  2. a syndicated copy: another outlet's near-copy of a text (new
//     headline, byline, footer, truncation), found with word shingles,
//     MinHash and LSH banding and verified by Jaccard or containment;
//  3. the same story: online clustering of title and lead terms (TF-IDF
//     with document frequencies learned online), entities and event
//     details (counts and measures: "23 pirates") over a time window, giving every item a stable story ID and emitting story
//     events (created, grew, merged).
//
// The decision logic (Engine) is a pure, in-memory function of the items
// seen so far and is tested without NATS. Dedup wraps it as a
// pipeline.Handler: every decision is one compare-and-set write to a
// JetStream KV bucket, and every worker replays that bucket in order, so
// any number of workers on one NATS decide exactly as one would and a
// restart loses nothing within the window.
//
// The package owns the dedup KV bucket and the decision; it must not
// publish items itself (the stage runner does, from the Outputs it
// returns), must not tag, and must not import the parser, poller or sinks.
package dedup
