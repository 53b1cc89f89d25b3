package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Item is one feed entry as it travels through the pipeline. It is the JSON
// carried on every items.* subject, written by the JSONL sink and stored by
// the database sinks, so its field names are a public contract (see README).
type Item struct {
	// ID is the stable identity: a hash of the feed and the entry's GUID (or
	// canonical link, or title+date when GUIDs are missing or reused).
	ID      string `json:"id"`
	Feed    string `json:"feed"`
	FeedURL string `json:"feed_url"`
	// GUID is the entry's own identifier as the feed gave it, if any.
	GUID       string   `json:"guid,omitempty"`
	URL        string   `json:"url,omitempty"`
	Title      string   `json:"title"`
	Authors    []string `json:"authors,omitempty"`
	Categories []string `json:"categories,omitempty"`
	Lang       string   `json:"lang,omitempty"`
	// Published is the entry's publication time in UTC; zero when the feed
	// gave none. Fetched is when wirewatch first saw the entry.
	Published time.Time `json:"published,omitzero"`
	Fetched   time.Time `json:"fetched"`
	// Text is the plain body text, boilerplate removed, paragraphs separated
	// by blank lines.
	Text        string `json:"text"`
	ContentHash string `json:"content_hash"`

	// Set by the dedup stage.
	DuplicateOf string `json:"duplicate_of,omitempty"`
	DupKind     string `json:"dup_kind,omitempty"`
	// Update is true when this is an edited version (same ID, new title or
	// text) of an item already seen.
	Update  bool   `json:"update,omitempty"`
	StoryID string `json:"story_id,omitempty"`

	// Set by the tag stage.
	Tags     []Tag    `json:"tags,omitempty"`
	Entities []Entity `json:"entities,omitempty"`
}

// Duplicate kinds for Item.DupKind.
const (
	DupExact      = "exact"
	DupSyndicated = "syndicated"
)

// Tag is a topic or entity label attached to an item, with the evidence
// that produced it.
type Tag struct {
	Tag      string     `json:"tag"`
	Kind     string     `json:"kind"`
	Evidence []Evidence `json:"evidence,omitempty"`
}

// Evidence locates one match in an item field. Start and End are byte
// offsets into the original field value (Title or Text), End exclusive.
type Evidence struct {
	Field string `json:"field"`
	Start int    `json:"start"`
	End   int    `json:"end"`
	Match string `json:"match"`
}

// Entity is a person, place, organisation or other named thing mentioned in
// an item.
type Entity struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Label    string `json:"label"`
	Mentions int    `json:"mentions"`
}

// Time returns the time that orders items for "first copy" and story
// windows: Published, or Fetched when Published is zero or after Fetched
// (a date in the future is not to be trusted).
func (it *Item) Time() time.Time {
	if it.Published.IsZero() || it.Published.After(it.Fetched) && !it.Fetched.IsZero() {
		return it.Fetched
	}
	return it.Published
}

// Version identifies this revision of the item: its ID plus a hash of the
// title, link and content hash. It is the Nats-Msg-Id of the parsed message,
// so a re-polled unchanged item is dropped by the server while an edit
// (new title or text under the same GUID) goes through.
func (it *Item) Version() string {
	h := sha256.Sum256([]byte(it.Title + "\x00" + it.URL + "\x00" + it.ContentHash))
	return it.ID + "." + hex.EncodeToString(h[:6])
}

// Marshal encodes the item as JSON.
func (it *Item) Marshal() ([]byte, error) { return json.Marshal(it) }

// Unmarshal decodes an item and checks the fields every stage relies on.
func Unmarshal(data []byte) (*Item, error) {
	var it Item
	if err := json.Unmarshal(data, &it); err != nil {
		return nil, fmt.Errorf("decode item: %w", err)
	}
	if it.ID == "" {
		return nil, fmt.Errorf("decode item: missing id")
	}
	if it.Feed == "" {
		return nil, fmt.Errorf("decode item %s: missing feed", it.ID)
	}
	return &it, nil
}
