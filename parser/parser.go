package parser

import (
	"errors"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

// Source names the configured feed a document came from.
type Source struct {
	Name string // configured feed name
	URL  string // configured (or permanently redirected) feed URL
}

// Feed is what one fetch of a feed document yields.
type Feed struct {
	Title string
	Link  string // the site's home page, if the feed names one
	Lang  string
	// TTL is RSS <ttl>; zero when absent.
	TTL time.Duration
	// UpdatePeriod is derived from sy:updatePeriod / sy:updateFrequency;
	// zero when absent.
	UpdatePeriod time.Duration
	Items        []pipeline.Item
}

// Parse parses an RSS 0.9x/1.0/2.0, Atom or JSON Feed document. now is the
// fetch time (Item.Fetched). It never panics on hostile input.
// STUB: replaced by the real implementation.
func Parse(src Source, body []byte, now time.Time) (*Feed, error) {
	return nil, errors.New("parser.Parse: not implemented yet")
}
