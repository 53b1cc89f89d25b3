package sinks

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wirewatch/wirewatch/pipeline"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver (pure Go)
)

// SQLiteConfig is the sinks.sqlite section of wirewatch.yaml. The sink is
// off when Path is empty.
type SQLiteConfig struct {
	// Path is the database file, created if missing (with its -wal and
	// -shm companions beside it).
	Path string `yaml:"path"`
	// BusyTimeout is how long a write waits for another process holding
	// the database lock before the attempt fails (and is retried by the
	// consumer). Default 5s.
	BusyTimeout time.Duration `yaml:"busy_timeout"`
	// Fsync makes every commit durable on disk before the item is
	// acknowledged (synchronous=FULL). Without it (synchronous=NORMAL, the
	// usual WAL setting) a crash of wirewatch loses nothing, but a power
	// loss or OS crash may lose the last acknowledged items.
	Fsync bool `yaml:"fsync"`
	// Retention deletes an item (with its tags, entities and version
	// records) this long after it was last written; 0 keeps items forever.
	// At least 1h. The daemon prunes at start and then every hour.
	Retention time.Duration `yaml:"retention"`
}

// DefaultBusyTimeout is SQLiteConfig.BusyTimeout when it is zero.
const DefaultBusyTimeout = 5 * time.Second

// MaxBusyTimeout is the longest SQLiteConfig.BusyTimeout (SQLite takes it
// in milliseconds in a C int).
const MaxBusyTimeout = time.Hour

// Validate reports every problem of c, joined.
func (c SQLiteConfig) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("sqlite sink: path is empty"))
	}
	if c.BusyTimeout < 0 {
		errs = append(errs, fmt.Errorf("sqlite sink: busy_timeout %s is negative", c.BusyTimeout))
	} else if c.BusyTimeout > MaxBusyTimeout {
		errs = append(errs, fmt.Errorf("sqlite sink: busy_timeout %s: want at most 1h (default 5s)", c.BusyTimeout))
	}
	if err := checkRetention(c.Retention); err != nil {
		errs = append(errs, fmt.Errorf("sqlite sink: %w", err))
	}
	return errors.Join(errs...)
}

// MinRetention is the shortest retention a database sink accepts.
const MinRetention = time.Hour

func checkRetention(d time.Duration) error {
	if d != 0 && d < MinRetention {
		return fmt.Errorf("retention %s: want 0 (keep forever) or at least %s", d, MinRetention)
	}
	return nil
}

// pruneBatch is how many items one prune statement deletes: small enough
// that the sink's writers wait milliseconds, not seconds, between batches.
const pruneBatch = 1000

// SQLite stores items in a SQLite database file (pure Go driver, WAL
// mode): one row per item in items, one row per tag in item_tags, one row
// per entity in item_entities and one row per stored version in
// item_versions. Write is idempotent by item version; an edited item
// updates its row. Safe for concurrent use, and several processes may
// share one file (writes are serialised by SQLite's lock). Close closes the
// database.
type SQLite struct {
	cfg  SQLiteConfig
	path string

	// mu guards the open database: writes and prunes hold it shared; a
	// reopen, after the file was deleted or replaced, holds it alone.
	mu   sync.RWMutex
	db   *sql.DB
	file os.FileInfo // the database file as opened, to notice its replacement
	wal  os.FileInfo // its write-ahead log as opened, if any
	// reopen is set while db is closed after the file was deleted or
	// replaced and reopening the path failed (its directory gone, the
	// disk full): the next write or prune tries again.
	reopen bool
	// Prepared once: parsing SQL was a fifth of the cost of a write.
	stmtVersion, stmtUpsert, stmtClearTags, stmtTag, stmtClearEntities, stmtEntity *sql.Stmt
}

var _ pipeline.Sink = (*SQLite)(nil)

// sqliteSchema lists the migrations in order; PRAGMA user_version holds how
// many have been applied. Append, never edit: a database created by an
// older wirewatch is brought up to date at open.
var sqliteSchema = []string{
	// 1: items, tags, entities, versions.
	`CREATE TABLE items (
		id           TEXT PRIMARY KEY,
		version      TEXT NOT NULL,
		feed         TEXT NOT NULL,
		feed_url     TEXT NOT NULL,
		guid         TEXT,
		url          TEXT,
		title        TEXT NOT NULL,
		authors      TEXT NOT NULL DEFAULT '[]',
		categories   TEXT NOT NULL DEFAULT '[]',
		lang         TEXT,
		published    TEXT,
		fetched      TEXT NOT NULL,
		item_time    TEXT NOT NULL,
		text         TEXT NOT NULL,
		content_hash TEXT,
		duplicate_of TEXT,
		dup_kind     TEXT,
		story_id     TEXT,
		tags         TEXT NOT NULL DEFAULT '[]',
		entities     TEXT NOT NULL DEFAULT '[]',
		is_update    INTEGER NOT NULL DEFAULT 0,
		stored_at    TEXT NOT NULL,
		updated_at   TEXT NOT NULL
	);
	CREATE INDEX items_feed_time ON items(feed, item_time);
	CREATE INDEX items_story ON items(story_id) WHERE story_id IS NOT NULL;
	CREATE INDEX items_published ON items(published);
	CREATE INDEX items_item_time ON items(item_time);
	CREATE INDEX items_duplicate_of ON items(duplicate_of) WHERE duplicate_of IS NOT NULL;
	CREATE TABLE item_tags (
		item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
		tag     TEXT NOT NULL,
		kind    TEXT NOT NULL,
		PRIMARY KEY (item_id, tag, kind)
	) WITHOUT ROWID;
	CREATE INDEX item_tags_tag ON item_tags(tag, item_id);
	CREATE TABLE item_entities (
		item_id   TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
		entity_id TEXT NOT NULL,
		kind      TEXT NOT NULL,
		label     TEXT NOT NULL,
		mentions  INTEGER NOT NULL,
		PRIMARY KEY (item_id, kind, entity_id)
	) WITHOUT ROWID;
	CREATE INDEX item_entities_entity ON item_entities(entity_id, item_id);
	CREATE TABLE item_versions (
		item_id   TEXT NOT NULL,
		version   TEXT NOT NULL,
		stored_at TEXT NOT NULL,
		PRIMARY KEY (item_id, version)
	) WITHOUT ROWID;`,
	// 2: pruning by last write (sinks.sqlite.retention).
	`CREATE INDEX items_updated_at ON items(updated_at);`,
}

// OpenSQLite opens (or creates) the database at path and brings its schema
// up to date.
func OpenSQLite(path string) (*SQLite, error) {
	return OpenSQLiteConfig(SQLiteConfig{Path: path})
}

// OpenSQLiteConfig is OpenSQLite with the options of cfg.
func OpenSQLiteConfig(cfg SQLiteConfig) (*SQLite, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BusyTimeout == 0 {
		cfg.BusyTimeout = DefaultBusyTimeout
	}
	s := &SQLite{cfg: cfg, path: cfg.Path}
	if err := s.open(); err != nil {
		return nil, fmt.Errorf("sqlite sink %s: %w", cfg.Path, err)
	}
	return s, nil
}

// open opens the database at s.path, brings its schema up to date and
// prepares the statements. s.mu must be held, or s not yet shared.
func (s *SQLite) open() error {
	// A file: URI so that '?' or '#' in the path cannot be read as DSN
	// parameters. _txlock=immediate takes the write lock at BEGIN, so two
	// writers wait for each other (busy_timeout) instead of failing on a
	// lock upgrade.
	syncMode := "NORMAL"
	if s.cfg.Fsync {
		syncMode = "FULL"
	}
	dsn := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(s.path) +
		fmt.Sprintf("?_txlock=immediate&_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)"+
			"&_pragma=synchronous(%s)&_pragma=foreign_keys(1)", s.cfg.BusyTimeout.Milliseconds(), syncMode)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	// One connection: SQLite has one writer at a time anyway, and queueing
	// in the pool is cheaper than spinning on the file lock.
	db.SetMaxOpenConns(1)
	s.db = db
	err = s.migrate(context.Background())
	if err == nil {
		err = s.prepare(context.Background())
	}
	if err == nil {
		s.file, err = os.Stat(s.path)
	}
	if err != nil {
		s.closeDB()
		return err
	}
	s.wal, _ = os.Stat(s.path + "-wal")
	return nil
}

// checkFile notices that the database file was deleted or replaced while
// open (SQLite itself cannot: it keeps writing to the file it opened, which
// nobody can read any more). It then reopens the path, creating a new
// database if the file is gone, and returns an error saying so, which
// makes the stage retry the item into the new file and log the event. The
// items stored before are only in the old file. When that reopen failed,
// the next call tries it again (and returns nil if it succeeds).
func (s *SQLite) checkFile() error {
	fi, err := os.Stat(s.path)
	s.mu.RLock()
	same := err == nil && os.SameFile(fi, s.file) && !s.reopen
	s.mu.RUnlock()
	if same {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reopen {
		if err := s.reopenPath(); err != nil {
			return fmt.Errorf("reopening the database file, moved, deleted or replaced while open, failed again: %w", err)
		}
		return nil
	}
	fi, err = os.Stat(s.path)
	switch {
	case err == nil && os.SameFile(fi, s.file):
		return nil // reopened by another writer meanwhile
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("check the database file: %w", err)
	}
	what := "replaced"
	if err != nil {
		what = "moved or deleted"
	}
	// SQLite does not fold its log into a file that is no longer at its
	// path, neither at a checkpoint of its own nor at close, so the items
	// written since the last one are only in the log: fold them in now,
	// into the file wherever it went (a rotation: mv items.db old.db).
	if _, err := s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("the database file was %s while open; save its log into it: %w", what, err)
	}
	s.closeDB()
	s.reopen = true
	if err := s.reopenPath(); err != nil {
		return fmt.Errorf("the database file was %s while open, and reopening it failed: %w", what, err)
	}
	return fmt.Errorf("the database file was %s while open: reopened the path (items stored before are in the old file, if it was kept)", what)
}

// reopenPath opens the path again after checkFile closed the database.
// s.mu must be held.
func (s *SQLite) reopenPath() error {
	// The log, folded in and emptied by checkFile, is left behind at the
	// path: the new database must not replay it.
	if wal, err := os.Stat(s.path + "-wal"); err == nil && s.wal != nil && os.SameFile(wal, s.wal) {
		for _, suffix := range []string{"-wal", "-shm"} {
			if err := os.Remove(s.path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove the old log: %w", err)
			}
		}
	}
	if err := s.open(); err != nil {
		return err
	}
	s.reopen = false
	return nil
}

func (s *SQLite) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.stmtVersion, `INSERT INTO item_versions (item_id, version, stored_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`},
		{&s.stmtUpsert, sqliteUpsert},
		{&s.stmtClearTags, `DELETE FROM item_tags WHERE item_id = ?`},
		{&s.stmtTag, `INSERT INTO item_tags (item_id, tag, kind) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`},
		{&s.stmtClearEntities, `DELETE FROM item_entities WHERE item_id = ?`},
		{&s.stmtEntity, `INSERT INTO item_entities (item_id, entity_id, kind, label, mentions) VALUES (?, ?, ?, ?, ?)`},
	} {
		st, err := s.db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		*p.stmt = st
	}
	return nil
}

func (s *SQLite) migrate(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	tx, err := s.db.BeginTx(ctx, nil) // immediate: one migrator at a time
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var have int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have > len(sqliteSchema) {
		return fmt.Errorf("schema version %d is newer than this wirewatch knows (%d)", have, len(sqliteSchema))
	}
	for v := have; v < len(sqliteSchema); v++ {
		if _, err := tx.ExecContext(ctx, sqliteSchema[v]); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
	}
	if have == len(sqliteSchema) {
		return nil
	}
	// PRAGMA takes no bound parameters; the value is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(sqliteSchema))); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// SchemaVersion returns the schema version of the open database.
func (s *SQLite) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite sink %s: read schema version: %w", s.path, err)
	}
	return v, nil
}

const sqliteUpsert = `INSERT INTO items (id, version, feed, feed_url, guid, url, title, authors, categories,
	lang, published, fetched, item_time, text, content_hash, duplicate_of, dup_kind, story_id, tags, entities,
	is_update, stored_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
	version = excluded.version, feed = excluded.feed, feed_url = excluded.feed_url, guid = excluded.guid,
	url = excluded.url, title = excluded.title, authors = excluded.authors, categories = excluded.categories,
	lang = excluded.lang, published = excluded.published, fetched = excluded.fetched,
	item_time = excluded.item_time, text = excluded.text, content_hash = excluded.content_hash,
	duplicate_of = excluded.duplicate_of, dup_kind = excluded.dup_kind, story_id = excluded.story_id,
	tags = excluded.tags, entities = excluded.entities, is_update = excluded.is_update,
	updated_at = excluded.updated_at
WHERE excluded.version <> items.version AND excluded.fetched >= items.fetched`

// HandleTimeout is the longest a Write may take: the wait for another
// process's lock (busy_timeout) and a second for the write itself. The
// stage pulls no more items at a time than fit in its ack deadline at
// that pace (pipeline.StageConfig.HandleTimeout).
func (s *SQLite) HandleTimeout() time.Duration {
	return cmp.Or(s.cfg.BusyTimeout, DefaultBusyTimeout) + time.Second
}

// Write stores it in one transaction: a version already stored is
// skipped, a new version of a stored item replaces the row and its tags
// (unless it was fetched before the stored one: a late redelivery of an
// old edit does not roll the row back).
func (s *SQLite) Write(ctx context.Context, it *pipeline.Item) error {
	r, err := newItemRow(it)
	if err != nil {
		return pipeline.Permanent(fmt.Errorf("sqlite sink: %w", err))
	}
	if err := s.checkFile(); err != nil {
		return fmt.Errorf("sqlite sink %s: %w", s.path, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.write(ctx, r); err != nil {
		return fmt.Errorf("sqlite sink %s: write %s: %w", s.path, it.ID, err)
	}
	return nil
}

func (s *SQLite) write(ctx context.Context, r *itemRow) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := sqliteTime(time.Now())
	res, err := tx.StmtContext(ctx, s.stmtVersion).ExecContext(ctx, r.id, r.version, now)
	if err != nil {
		return fmt.Errorf("record version: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // this version was stored before: nothing to do
	}
	res, err = tx.StmtContext(ctx, s.stmtUpsert).ExecContext(ctx,
		r.id, r.version, r.feed, r.feedURL, nullString(r.guid), nullString(r.url), r.title,
		r.authors, r.categories, nullString(r.lang), nullTime(r.published), sqliteTime(r.fetched),
		sqliteTime(r.itemTime), r.text, nullString(r.contentHash), nullString(r.duplicateOf),
		nullString(r.dupKind), nullString(r.storyID), r.tagsJSON, r.entitiesJSON, r.isUpdate, now, now)
	if err != nil {
		return fmt.Errorf("upsert item: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return err
		}
		return tx.Commit() // older than the stored version: keep the row
	}
	if _, err := tx.StmtContext(ctx, s.stmtClearTags).ExecContext(ctx, r.id); err != nil {
		return fmt.Errorf("clear tags: %w", err)
	}
	tagStmt := tx.StmtContext(ctx, s.stmtTag)
	for _, t := range r.tags {
		if _, err := tagStmt.ExecContext(ctx, r.id, t.Tag, t.Kind); err != nil {
			return fmt.Errorf("insert tag %s: %w", t.Tag, err)
		}
	}
	if _, err := tx.StmtContext(ctx, s.stmtClearEntities).ExecContext(ctx, r.id); err != nil {
		return fmt.Errorf("clear entities: %w", err)
	}
	entityStmt := tx.StmtContext(ctx, s.stmtEntity)
	for _, e := range r.entities {
		if _, err := entityStmt.ExecContext(ctx, r.id, e.ID, e.Kind, e.Label, e.Mentions); err != nil {
			return fmt.Errorf("insert entity %s: %w", e.ID, err)
		}
	}
	return tx.Commit()
}

// Prune deletes the items last written before before, with their tags
// and entities (foreign keys cascade) and their version records, in
// batches. It returns how many items it deleted. An item that arrives
// again after it was pruned is stored again.
func (s *SQLite) Prune(ctx context.Context, before time.Time) (int64, error) {
	if err := s.checkFile(); err != nil {
		return 0, fmt.Errorf("sqlite sink %s: prune: %w", s.path, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	cut := sqliteTime(before)
	var total int64
	for {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return total, fmt.Errorf("sqlite sink %s: prune: %w", s.path, err)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM item_versions WHERE item_id IN
			(SELECT id FROM items WHERE updated_at < ? ORDER BY updated_at, id LIMIT ?)`, cut, pruneBatch)
		var res sql.Result
		if err == nil {
			res, err = tx.ExecContext(ctx, `DELETE FROM items WHERE id IN
				(SELECT id FROM items WHERE updated_at < ? ORDER BY updated_at, id LIMIT ?)`, cut, pruneBatch)
		}
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			tx.Rollback()
			return total, fmt.Errorf("sqlite sink %s: prune: %w", s.path, err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}

// Close closes the database.
func (s *SQLite) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.closeDB(); err != nil {
		return fmt.Errorf("sqlite sink %s: close: %w", s.path, err)
	}
	return nil
}

// closeDB closes the statements prepared and the database.
func (s *SQLite) closeDB() error {
	for _, st := range []*sql.Stmt{s.stmtVersion, s.stmtUpsert, s.stmtClearTags, s.stmtTag, s.stmtClearEntities, s.stmtEntity} {
		if st != nil {
			st.Close()
		}
	}
	s.stmtVersion, s.stmtUpsert, s.stmtClearTags, s.stmtTag, s.stmtClearEntities, s.stmtEntity = nil, nil, nil, nil, nil, nil
	return s.db.Close()
}

// sqliteTimeFormat is fixed width (milliseconds, always Z), so text order
// is time order and SQLite's strftime('%Y-%m-%dT%H:%M:%fZ', ...) compares
// directly against the stored values.
const sqliteTimeFormat = "2006-01-02T15:04:05.000Z"

func sqliteTime(t time.Time) string { return t.UTC().Format(sqliteTimeFormat) }

func nullTime(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: sqliteTime(t), Valid: true}
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// itemRow is an item flattened for the database sinks (SQLite and
// PostgreSQL share it): text cleaned of NUL bytes and invalid UTF-8, which
// PostgreSQL rejects and no reader wants, lists encoded as JSON.
type itemRow struct {
	id, version, feed, feedURL, guid, url, title, lang string
	text, contentHash, duplicateOf, dupKind, storyID   string
	authorsList, categoriesList                        []string
	authors, categories, tagsJSON, entitiesJSON        string
	published, fetched, itemTime                       time.Time
	isUpdate                                           bool
	tags                                               []pipeline.Tag
	entities                                           []pipeline.Entity
}

func newItemRow(it *pipeline.Item) (*itemRow, error) {
	if it.ID == "" {
		return nil, errors.New("item has no id")
	}
	r := &itemRow{
		// The version is computed from the item as received, before
		// cleaning, so it matches the version everyone else sees.
		id: clean(it.ID), version: clean(it.Version()), feed: clean(it.Feed), feedURL: clean(it.FeedURL),
		guid: clean(it.GUID), url: clean(it.URL), title: clean(it.Title), lang: clean(it.Lang),
		text: clean(it.Text), contentHash: clean(it.ContentHash), duplicateOf: clean(it.DuplicateOf),
		dupKind: clean(it.DupKind), storyID: clean(it.StoryID),
		authorsList: cleanAll(it.Authors), categoriesList: cleanAll(it.Categories),
		published: it.Published.UTC(), fetched: it.Fetched.UTC(), itemTime: it.Time().UTC(),
		isUpdate: it.Update,
	}
	for _, t := range it.Tags {
		t.Tag, t.Kind = clean(t.Tag), clean(t.Kind)
		ev := make([]pipeline.Evidence, len(t.Evidence)) // never edit the caller's item
		for i, e := range t.Evidence {
			e.Field, e.Match = clean(e.Field), clean(e.Match)
			ev[i] = e
		}
		t.Evidence = ev
		r.tags = append(r.tags, t)
	}
	// One row per (kind, id): a repeated entity adds its mentions, since
	// one statement may not upsert the same row twice.
	at := make(map[[2]string]int, len(it.Entities))
	for _, e := range it.Entities {
		e.ID, e.Kind, e.Label = clean(e.ID), clean(e.Kind), clean(e.Label)
		if i, ok := at[[2]string{e.Kind, e.ID}]; ok {
			r.entities[i].Mentions += e.Mentions
			continue
		}
		at[[2]string{e.Kind, e.ID}] = len(r.entities)
		r.entities = append(r.entities, e)
	}
	var err error
	if r.authors, err = jsonText(r.authorsList); err != nil {
		return nil, fmt.Errorf("encode authors of %s: %w", it.ID, err)
	}
	if r.categories, err = jsonText(r.categoriesList); err != nil {
		return nil, fmt.Errorf("encode categories of %s: %w", it.ID, err)
	}
	if r.tagsJSON, err = jsonText(r.tags); err != nil {
		return nil, fmt.Errorf("encode tags of %s: %w", it.ID, err)
	}
	if r.entitiesJSON, err = jsonText(r.entities); err != nil {
		return nil, fmt.Errorf("encode entities of %s: %w", it.ID, err)
	}
	return r, nil
}

// tagNames returns the distinct tag names, for PostgreSQL's text[] column.
func (r *itemRow) tagNames() []string {
	names := make([]string, 0, len(r.tags))
	seen := make(map[string]bool, len(r.tags))
	for _, t := range r.tags {
		if !seen[t.Tag] {
			seen[t.Tag] = true
			names = append(names, t.Tag)
		}
	}
	return names
}

// jsonText encodes v as JSON, with nil slices as [] rather than null.
func jsonText[T any](v []T) (string, error) {
	if v == nil {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "")
}

func cleanAll(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = clean(s)
	}
	return out
}
