package dedup

import (
	"errors"
	"fmt"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

// Config tunes the dedup stage. The zero value is usable: every zero field
// takes its default (see docs/dedup.md for how each default was measured).
type Config struct {
	// Window is how far apart, by item time, two reports of one story may
	// be, and how long (by item time) candidates for copies are kept.
	// Default 72h.
	Window time.Duration
	// KeepIDs is how long, by item time, item identities are remembered
	// for the "same item again" level. At least Window; default 7 days.
	KeepIDs time.Duration
	// RedeliveryWindow: an item whose ID and version were already decided
	// less than this long ago (wall clock) is taken as a redelivery of an
	// unfinished message and gets the same outputs again (the output
	// stream drops repeats by Nats-Msg-Id); older, it is a re-poll and is
	// dropped. It must not exceed the parsed stream's duplicate window,
	// inside which the server itself drops re-polls. Default 24h, the
	// pipeline's default duplicate window.
	RedeliveryWindow time.Duration

	// MinWords is the fewest body words a text needs for the exact and
	// syndicated levels; shorter bodies (teasers, headline-only feeds)
	// only join stories. Default 20.
	MinWords int
	// Jaccard is the estimated shingle Jaccard similarity at or above
	// which two texts are copies. Default 0.65.
	Jaccard float64
	// Containment is the estimated share of the shorter text's shingles
	// found in the longer one at or above which the shorter is a copy
	// (truncated, or the longer has an added footer). Default 0.8.
	Containment float64

	// StoryThreshold is the TF-IDF cosine similarity between an item and
	// a story at or above which the item joins the story. Default 0.2.
	StoryThreshold float64
	// HeadlineThreshold replaces StoryThreshold for items whose body is
	// shorter than MinWords (headline-only feeds, teasers): a few words
	// give lower cosines for the same story. Default 0.08.
	HeadlineThreshold float64
	// MergeThreshold is the similarity an item must have with two stories
	// for them to be merged into one. Default 0.5.
	MergeThreshold float64
	// SeedWeight is the share of an item's similarity to a story that is
	// its similarity to the story's first item (the seed), the rest being
	// its similarity to the centroid of all members: a story grown by
	// loosely related reports drifts, and the seed holds it to the event
	// it started with. Items shorter than MinWords (headlines) use the
	// centroid only. Default 0.3; negative turns it off (centroid only).
	SeedWeight float64
	// LeadWords is how many words of the body, after the headline, count
	// as the lead for story terms. Default 60.
	LeadWords int
	// TitleWeight and EntityWeight scale title terms and entities against
	// lead terms (weight 1). Defaults 2 and 2.
	TitleWeight  float64
	EntityWeight float64
	// Entities, when set, returns entity identifiers of an item (e.g. the
	// tagger's entity matcher); they count as rare story terms. Optional:
	// without it the stage uses title and lead terms only. It must be
	// safe for concurrent use and deterministic.
	Entities func(*pipeline.Item) []string

	// Replicas of the dedup KV bucket: 1 on a single server, 3 on a
	// three-node cluster. Default 1.
	Replicas int

	// NoNames turns off the built-in stand-in for entities: runs of
	// capitalised words inside sentences of the lead ("Betty Ford
	// Center"), which count as terms with EntityWeight.
	NoNames bool

	// Now is the wall clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Defaults.
const (
	DefaultWindow           = 72 * time.Hour
	DefaultKeepIDs          = 7 * 24 * time.Hour
	DefaultRedeliveryWindow = 24 * time.Hour
)

// WithDefaults returns c with every zero field set to the default the
// engine runs with.
func (c Config) WithDefaults() Config { return c.withDefaults() }

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.KeepIDs == 0 {
		c.KeepIDs = DefaultKeepIDs
	}
	c.KeepIDs = max(c.KeepIDs, c.Window)
	if c.RedeliveryWindow == 0 {
		c.RedeliveryWindow = DefaultRedeliveryWindow
	}
	if c.MinWords == 0 {
		c.MinWords = 20
	}
	if c.Jaccard == 0 {
		c.Jaccard = 0.65
	}
	if c.Containment == 0 {
		c.Containment = 0.8
	}
	if c.StoryThreshold == 0 {
		c.StoryThreshold = 0.2
	}
	if c.HeadlineThreshold == 0 {
		c.HeadlineThreshold = 0.08
	}
	if c.MergeThreshold == 0 {
		c.MergeThreshold = 0.5
	}
	if c.SeedWeight == 0 {
		c.SeedWeight = 0.3
	}
	if c.LeadWords == 0 {
		c.LeadWords = 60
	}
	if c.TitleWeight == 0 {
		c.TitleWeight = 2
	}
	if c.EntityWeight == 0 {
		c.EntityWeight = 2
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every out-of-range field with the range it wants.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, key string, v any, want string) {
		if !ok {
			errs = append(errs, fmt.Errorf("dedup.%s: %v: want %s", key, v, want))
		}
	}
	const nonNeg, unit = "0 or more", "a number from 0 to 1"
	check(c.Window >= 0, "window", c.Window, nonNeg)
	check(c.KeepIDs >= 0, "keep_ids", c.KeepIDs, nonNeg)
	check(c.RedeliveryWindow >= 0, "redelivery_window", c.RedeliveryWindow, nonNeg)
	check(c.MinWords >= 0, "min_words", c.MinWords, nonNeg)
	check(c.Jaccard >= 0 && c.Jaccard <= 1, "jaccard", c.Jaccard, unit)
	check(c.Containment >= 0 && c.Containment <= 1, "containment", c.Containment, unit)
	check(c.StoryThreshold >= 0 && c.StoryThreshold <= 1, "story_threshold", c.StoryThreshold, unit)
	check(c.HeadlineThreshold >= 0 && c.HeadlineThreshold <= 1, "headline_threshold", c.HeadlineThreshold, unit)
	check(c.MergeThreshold >= 0 && c.MergeThreshold <= 1, "merge_threshold", c.MergeThreshold, unit)
	check(c.SeedWeight <= 1, "seed_weight", c.SeedWeight, "at most 1 (negative: centroid only)")
	check(c.LeadWords >= 0, "lead_words", c.LeadWords, nonNeg)
	check(c.TitleWeight >= 0, "title_weight", c.TitleWeight, nonNeg)
	check(c.EntityWeight >= 0, "entity_weight", c.EntityWeight, nonNeg)
	return errors.Join(errs...)
}
