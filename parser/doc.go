// Package parser turns the bytes of one fetched feed document into
// pipeline.Items: it detects and parses RSS 0.9x/1.0/2.0, Atom and JSON Feed
// (with gofeed), picks the richest body of each entry and reduces it to plain
// text (Text), normalises titles, authors, categories, languages and dates,
// canonicalises article links (CanonicalURL), and gives every item a stable
// identity (ID) and a hash of its normalised text (ContentHash).
//
// The package is pure: it does no network I/O, reads no clock (the caller
// passes the fetch time), keeps no state between calls and never logs; a
// problem is returned as an error naming the feed. Every exported function is
// safe for concurrent use. Feed documents are hostile input: Parse must
// return an error, never panic, whatever the bytes.
//
// Body text: Text reduces a feed fragment to blocks of plain text;
// ExtractArticle finds the main article of a full page fetched by the poller
// (content scoring, JSON-LD articleBody, charsets); Boilerplate is the one
// stateful type here: a per-feed learner of recurring footer blocks that the
// poller holds per feed (see docs/extraction.md).
//
// It must not fetch anything (that is the poller's job), decide whether an
// item was seen before (the dedup stage), or tag it (the tag stage).
package parser
