// Package tag is wirewatch's tagging engine: it finds entities (people,
// places, organisations) and topics in an item's title and text, with
// evidence, from rules that are data.
//
// Rules come from YAML files (Load, ParseRules) merged over a built-in world
// gazetteer (Gazetteer): entities with aliases, and topics as boolean
// conditions (all / any / none, near, min, field) over entities and terms.
// A Tagger compiles rules once and tags items concurrently; a Reloader
// rebuilds it when rule files change or on demand, keeping the old rules
// when new ones are bad.
//
// Matching folds text (Unicode NFKC, case folding, diacritics removed) and
// finds every alias and term in one pass over the words, on word
// boundaries, so "Zelenskyy's", "ZELENSKIY" and "Zelensky" all match their
// aliases and "cease-fire" matches "ceasefire". Evidence offsets are bytes
// into the original Item.Title and Item.Text.
//
// This package owns the rule format, the matcher and the gazetteer data.
// It must not do I/O beyond reading rule files, must not touch NATS (the
// tag stage in package pipeline calls Tagger.Tag), and logs only through
// the logger given to Watch or a Reloader.
package tag
