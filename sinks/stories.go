package sinks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// StoryQuery selects stories from a database sink.
type StoryQuery struct {
	// Since keeps stories with an item at or after it; zero: all.
	Since time.Time
	// Tag keeps stories with an item carrying this tag (topic or entity
	// id); empty: all.
	Tag string
	// Limit caps the stories returned (default 20).
	Limit int
}

// StorySummary is one story as stored: each story once, with what it is
// made of.
type StorySummary struct {
	StoryID   string    `json:"story_id"`
	Title     string    `json:"title"`      // of the story's earliest item
	URL       string    `json:"url"`        // of the story's earliest item
	FirstFeed string    `json:"first_feed"` // which outlet had it first
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	Reports   int       `json:"reports"` // first copies: the outlets' own reports
	Copies    int       `json:"copies"`  // exact and syndicated copies
	Outlets   int       `json:"outlets"` // distinct feeds
	Tags      []string  `json:"tags"`    // the most frequent tags of its reports, most frequent first
}

// Stories returns the stories of the SQLite database at path, most
// outlets first, then the most recent. It opens the file read-only: a
// running daemon keeps writing while this reads (WAL).
func Stories(ctx context.Context, path string, q StoryQuery) ([]StorySummary, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("stories: %w", err)
	}
	dsn := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path) +
		"?mode=ro&_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("stories %s: %w", path, err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('items', 'item_tags')`).Scan(&tables); err != nil {
		return nil, fmt.Errorf("stories %s: not a SQLite database: %w", path, err)
	}
	if tables != 2 {
		return nil, fmt.Errorf("stories %s: not a wirewatch database (no items and item_tags tables): give the file of sinks.sqlite.path", path)
	}
	if q.Limit <= 0 {
		q.Limit = 20
	}
	since := ""
	if !q.Since.IsZero() {
		since = sqliteTime(q.Since)
	}
	rows, err := db.QueryContext(ctx, `
		SELECT story_id,
		       sum(duplicate_of IS NULL), sum(duplicate_of IS NOT NULL), count(DISTINCT feed),
		       min(item_time), max(item_time)
		FROM items
		WHERE story_id IS NOT NULL AND item_time >= ?1
		  AND (?2 = '' OR story_id IN (SELECT i.story_id FROM items i JOIN item_tags t ON t.item_id = i.id
		                                WHERE t.tag = ?2 AND i.story_id IS NOT NULL))
		GROUP BY story_id
		ORDER BY count(DISTINCT feed) DESC, max(item_time) DESC, story_id
		LIMIT ?3`, since, q.Tag, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("stories %s: %w", path, err)
	}
	var out []StorySummary
	for rows.Next() {
		var s StorySummary
		var first, last string
		if err := rows.Scan(&s.StoryID, &s.Reports, &s.Copies, &s.Outlets, &first, &last); err != nil {
			rows.Close()
			return nil, fmt.Errorf("stories %s: %w", path, err)
		}
		s.First, _ = time.Parse(sqliteTimeFormat, first)
		s.Last, _ = time.Parse(sqliteTimeFormat, last)
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stories %s: %w", path, err)
	}
	for i := range out {
		s := &out[i]
		var url sql.NullString
		err := db.QueryRowContext(ctx, `SELECT title, url, feed FROM items WHERE story_id = ?
			ORDER BY item_time, id LIMIT 1`, s.StoryID).Scan(&s.Title, &url, &s.FirstFeed)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("stories %s: %w", path, err)
		}
		s.URL = url.String
		trows, err := db.QueryContext(ctx, `SELECT t.tag FROM item_tags t JOIN items i ON i.id = t.item_id
			WHERE i.story_id = ? AND i.duplicate_of IS NULL
			GROUP BY t.tag ORDER BY count(*) DESC, t.tag LIMIT 8`, s.StoryID)
		if err != nil {
			return nil, fmt.Errorf("stories %s: %w", path, err)
		}
		for trows.Next() {
			var tag string
			if err := trows.Scan(&tag); err != nil {
				trows.Close()
				return nil, fmt.Errorf("stories %s: %w", path, err)
			}
			s.Tags = append(s.Tags, tag)
		}
		trows.Close()
		if err := trows.Err(); err != nil {
			return nil, fmt.Errorf("stories %s: %w", path, err)
		}
	}
	return out, nil
}

// PostgresStories is Stories on the PostgreSQL sink's database (dsn as in
// PostgresConfig; search_path names its schema). It only reads: no
// migration, no lock.
func PostgresStories(ctx context.Context, dsn string, q StoryQuery) ([]StorySummary, error) {
	pool, schema, host, err := newPool(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("stories: %w", err)
	}
	defer pool.Close()
	if q.Limit <= 0 {
		q.Limit = 20
	}
	var since *time.Time
	if !q.Since.IsZero() {
		since = &q.Since
	}
	sc := pgx.Identifier{schema}.Sanitize()
	rows, err := pool.Query(ctx, `
		SELECT story_id,
		       count(*) FILTER (WHERE duplicate_of IS NULL), count(*) FILTER (WHERE duplicate_of IS NOT NULL),
		       count(DISTINCT feed), min(item_time), max(item_time)
		FROM `+sc+`.items
		WHERE story_id IS NOT NULL AND ($1::timestamptz IS NULL OR item_time >= $1)
		  AND ($2 = '' OR story_id IN (SELECT i.story_id FROM `+sc+`.items i JOIN `+sc+`.item_tags t ON t.item_id = i.id
		                               WHERE t.tag = $2 AND i.story_id IS NOT NULL))
		GROUP BY story_id
		ORDER BY count(DISTINCT feed) DESC, max(item_time) DESC, story_id
		LIMIT $3`, since, q.Tag, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("stories: postgres %s: %w", host, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StorySummary, error) {
		var s StorySummary
		err := r.Scan(&s.StoryID, &s.Reports, &s.Copies, &s.Outlets, &s.First, &s.Last)
		s.First, s.Last = s.First.UTC(), s.Last.UTC()
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("stories: postgres %s: %w", host, err)
	}
	for i := range out {
		s := &out[i]
		var url *string
		err := pool.QueryRow(ctx, `SELECT title, url, feed FROM `+sc+`.items WHERE story_id = $1
			ORDER BY item_time, id LIMIT 1`, s.StoryID).Scan(&s.Title, &url, &s.FirstFeed)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("stories: postgres %s: %w", host, err)
		}
		if url != nil {
			s.URL = *url
		}
		trows, err := pool.Query(ctx, `SELECT t.tag FROM `+sc+`.item_tags t JOIN `+sc+`.items i ON i.id = t.item_id
			WHERE i.story_id = $1 AND i.duplicate_of IS NULL
			GROUP BY t.tag ORDER BY count(*) DESC, t.tag LIMIT 8`, s.StoryID)
		if err != nil {
			return nil, fmt.Errorf("stories: postgres %s: %w", host, err)
		}
		if s.Tags, err = pgx.CollectRows(trows, pgx.RowTo[string]); err != nil {
			return nil, fmt.Errorf("stories: postgres %s: %w", host, err)
		}
		if len(s.Tags) == 0 {
			s.Tags = nil // as from SQLite
		}
	}
	return out, nil
}
