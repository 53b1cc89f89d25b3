package sinks

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wirewatch/wirewatch/pipeline"
)

// PostgresConfig is the sinks.postgres section of wirewatch.yaml. The sink
// is off when DSN is empty.
type PostgresConfig struct {
	// DSN is a PostgreSQL connection string, URL or key=value form, e.g.
	// postgres://wirewatch:secret@db:5432/news?sslmode=require. Add
	// search_path=<schema> to keep wirewatch's tables in their own schema
	// (created if missing; default public) and pool_max_conns=<n> to
	// bound the pool (default: pgxpool's, max(4, CPUs)).
	DSN string `yaml:"dsn"`
	// Retention deletes an item (with its tags, entities and version
	// records) this long after it was last written; 0 keeps items forever.
	// At least 1h. The daemon prunes at start and then every hour.
	Retention time.Duration `yaml:"retention"`
}

// Validate checks that DSN is set and parses; the message never echoes
// the DSN, which holds the password.
func (c PostgresConfig) Validate() error {
	if c.DSN == "" {
		return errors.New("postgres sink: dsn is empty")
	}
	if _, err := pgxpool.ParseConfig(c.DSN); err != nil {
		return errors.New("postgres sink: dsn does not parse (check its syntax)")
	}
	if err := checkRetention(c.Retention); err != nil {
		return fmt.Errorf("postgres sink: %w", err)
	}
	return nil
}

// Redacted returns a copy of c safe to print, the DSN's password and
// sslpassword replaced. A URL-form DSN that url.Parse cannot read as libpq
// does is REDACTED as a whole.
func (c PostgresConfig) Redacted() PostgresConfig {
	if c.DSN == "" {
		return c
	}
	if scheme := strings.Index(c.DSN, "://"); scheme >= 0 {
		u, err := url.Parse(c.DSN)
		var q url.Values
		if err == nil {
			q, err = url.ParseQuery(u.RawQuery)
		}
		// libpq's user information runs to the first "@" before any "/":
		// with a "?" or "#" in it (postgres://u:12#34@db), url.Parse
		// reads part of the password as the port and the rest as the
		// query or fragment.
		rest := c.DSN[scheme+3:]
		if i := strings.IndexAny(rest, "@/"); err != nil || i >= 0 && rest[i] == '@' && strings.ContainsAny(rest[:i], "?#") {
			c.DSN = "REDACTED"
			return c
		}
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
		changed := false
		for _, k := range []string{"password", "sslpassword"} {
			if q.Has(k) {
				q.Set(k, "REDACTED")
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
		c.DSN = u.String()
		return c
	}
	// key=value form: password=... (and so sslpassword=...), possibly
	// quoted, up to the next space.
	c.DSN = dsnPassword.ReplaceAllString(c.DSN, "${1}REDACTED")
	return c
}

var dsnPassword = regexp.MustCompile(`(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

// Postgres stores items in PostgreSQL through a pgx connection pool, with
// the same tables as the SQLite sink in PostgreSQL types (timestamptz,
// jsonb, a text[] of tag names with a GIN index). Migrations are applied
// at open under an advisory lock, so several wirewatch processes may start
// at once. Write is idempotent by item version. Safe for concurrent use;
// Close closes the pool.
type Postgres struct {
	pool   *pgxpool.Pool
	schema string
	q      pgQueries
}

var _ pipeline.Sink = (*Postgres)(nil)

// postgresSchema lists the migrations in order; {{s}} stands for the
// quoted schema name. Append, never edit.
var postgresSchema = []string{
	// 1: items, tags, entities, versions.
	`CREATE TABLE {{s}}.items (
		id           text PRIMARY KEY,
		version      text NOT NULL,
		feed         text NOT NULL,
		feed_url     text NOT NULL,
		guid         text,
		url          text,
		title        text NOT NULL,
		authors      jsonb NOT NULL DEFAULT '[]',
		categories   jsonb NOT NULL DEFAULT '[]',
		lang         text,
		published    timestamptz,
		fetched      timestamptz NOT NULL,
		item_time    timestamptz NOT NULL,
		text         text NOT NULL,
		content_hash text,
		duplicate_of text,
		dup_kind     text,
		story_id     text,
		tags         jsonb NOT NULL DEFAULT '[]',
		tag_names    text[] NOT NULL DEFAULT '{}',
		entities     jsonb NOT NULL DEFAULT '[]',
		is_update    boolean NOT NULL DEFAULT false,
		stored_at    timestamptz NOT NULL DEFAULT now(),
		updated_at   timestamptz NOT NULL DEFAULT now()
	);
	CREATE INDEX items_feed_time ON {{s}}.items (feed, item_time);
	CREATE INDEX items_story ON {{s}}.items (story_id) WHERE story_id IS NOT NULL;
	CREATE INDEX items_published ON {{s}}.items (published);
	CREATE INDEX items_item_time ON {{s}}.items (item_time);
	CREATE INDEX items_duplicate_of ON {{s}}.items (duplicate_of) WHERE duplicate_of IS NOT NULL;
	CREATE INDEX items_tag_names ON {{s}}.items USING gin (tag_names);
	CREATE INDEX items_tags ON {{s}}.items USING gin (tags jsonb_path_ops);
	CREATE INDEX items_entities ON {{s}}.items USING gin (entities jsonb_path_ops);
	CREATE TABLE {{s}}.item_tags (
		item_id text NOT NULL REFERENCES {{s}}.items (id) ON DELETE CASCADE,
		tag     text NOT NULL,
		kind    text NOT NULL,
		PRIMARY KEY (item_id, tag, kind)
	);
	CREATE INDEX item_tags_tag ON {{s}}.item_tags (tag, item_id);
	CREATE TABLE {{s}}.item_entities (
		item_id   text NOT NULL REFERENCES {{s}}.items (id) ON DELETE CASCADE,
		entity_id text NOT NULL,
		kind      text NOT NULL,
		label     text NOT NULL,
		mentions  integer NOT NULL,
		PRIMARY KEY (item_id, kind, entity_id)
	);
	CREATE INDEX item_entities_entity ON {{s}}.item_entities (entity_id, item_id);
	CREATE TABLE {{s}}.item_versions (
		item_id   text NOT NULL,
		version   text NOT NULL,
		stored_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (item_id, version)
	);`,
	// 2: pruning by last write (sinks.postgres.retention).
	`CREATE INDEX items_updated_at ON {{s}}.items (updated_at);`,
}

// pgQueries are the statements of one schema, built once at open. Values
// are always bound parameters; only the schema name (quoted with
// pgx.Identifier) is spliced in.
type pgQueries struct {
	upsert, clearTags, tags, clearEntities, entities string
}

func newPGQueries(schema string) pgQueries {
	s := pgx.Identifier{schema}.Sanitize()
	r := strings.NewReplacer("{{s}}", s)
	return pgQueries{
		// One round trip: record the version and, only if it is new,
		// upsert the row.
		upsert: r.Replace(`WITH v AS (
	INSERT INTO {{s}}.item_versions (item_id, version) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1)
INSERT INTO {{s}}.items AS i (id, version, feed, feed_url, guid, url, title, authors,
	categories, lang, published, fetched, item_time, text, content_hash, duplicate_of, dup_kind, story_id, tags,
	tag_names, entities, is_update)
SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::jsonb, $9::jsonb, $10::text,
	$11::timestamptz, $12::timestamptz, $13::timestamptz, $14::text, $15::text, $16::text, $17::text, $18::text,
	$19::jsonb, $20::text[], $21::jsonb, $22::boolean
WHERE EXISTS (SELECT 1 FROM v)
ON CONFLICT (id) DO UPDATE SET
	version = excluded.version, feed = excluded.feed, feed_url = excluded.feed_url, guid = excluded.guid,
	url = excluded.url, title = excluded.title, authors = excluded.authors, categories = excluded.categories,
	lang = excluded.lang, published = excluded.published, fetched = excluded.fetched,
	item_time = excluded.item_time, text = excluded.text, content_hash = excluded.content_hash,
	duplicate_of = excluded.duplicate_of, dup_kind = excluded.dup_kind, story_id = excluded.story_id,
	tags = excluded.tags, tag_names = excluded.tag_names, entities = excluded.entities,
	is_update = excluded.is_update, updated_at = now()
WHERE excluded.version <> i.version AND excluded.fetched >= i.fetched`),
		clearTags: r.Replace(`DELETE FROM {{s}}.item_tags WHERE item_id = $1`),
		tags: r.Replace(`INSERT INTO {{s}}.item_tags (item_id, tag, kind)
SELECT $1, t, k FROM unnest($2::text[], $3::text[]) AS u(t, k) ON CONFLICT DO NOTHING`),
		clearEntities: r.Replace(`DELETE FROM {{s}}.item_entities WHERE item_id = $1`),
		entities: r.Replace(`INSERT INTO {{s}}.item_entities (item_id, entity_id, kind, label, mentions)
SELECT $1, e, k, l, m FROM unnest($2::text[], $3::text[], $4::text[], $5::int[]) AS u(e, k, l, m)`),
	}
}

// OpenPostgres connects to the database at dsn (see PostgresConfig.DSN)
// and brings the schema up to date. ctx bounds the connection and the
// migration, not the life of the pool.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	pool, schema, host, err := newPool(ctx, dsn)
	if err != nil {
		return nil, err
	}
	p := &Postgres{pool: pool, schema: schema, q: newPGQueries(schema)}
	if err := p.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres sink %s: schema %s: %w", host, schema, err)
	}
	return p, nil
}

// newPool opens a pgx pool on dsn and returns it with the schema its
// search_path names and the host, for messages.
func newPool(ctx context.Context, dsn string) (*pgxpool.Pool, string, string, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may echo the DSN, password included.
		return nil, "", "", errors.New("postgres sink: cannot parse dsn (check its syntax)")
	}
	host := cfg.ConnConfig.Host
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, "", "", fmt.Errorf("postgres sink %s: %w", host, err)
	}
	return pool, schemaOf(cfg.ConnConfig.RuntimeParams["search_path"]), host, nil
}

// schemaOf returns the first schema of a search_path, or public.
func schemaOf(searchPath string) string {
	first, _, _ := strings.Cut(searchPath, ",")
	first = strings.TrimSpace(first)
	if len(first) >= 2 && first[0] == '"' && first[len(first)-1] == '"' {
		first = strings.ReplaceAll(first[1:len(first)-1], `""`, `"`)
	}
	if first == "" || strings.HasPrefix(first, "$") {
		return "public"
	}
	return first
}

// migrateLockKey is the advisory lock that serialises migrations of one
// schema across processes.
func migrateLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("wirewatch.migrate." + schema))
	return int64(h.Sum64())
}

func (p *Postgres) migrate(ctx context.Context) error {
	s := pgx.Identifier{p.schema}.Sanitize()
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		// Transaction-scoped: released at commit or rollback, even if
		// this process dies, so a crashed migrator cannot wedge others.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey(p.schema)); err != nil {
			return fmt.Errorf("advisory lock: %w", err)
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, p.schema).Scan(&exists); err != nil {
			return fmt.Errorf("look up schema: %w", err)
		}
		if !exists { // CREATE SCHEMA needs a privilege that using an existing one does not
			if _, err := tx.Exec(ctx, `CREATE SCHEMA `+s); err != nil {
				return fmt.Errorf("create schema: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s+`.schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+s+`.schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if have > len(postgresSchema) {
			return fmt.Errorf("schema version %d is newer than this wirewatch knows (%d)", have, len(postgresSchema))
		}
		for v := have; v < len(postgresSchema); v++ {
			if _, err := tx.Exec(ctx, strings.ReplaceAll(postgresSchema[v], "{{s}}", s)); err != nil {
				return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+s+`.schema_migrations (version) VALUES ($1)`, v+1); err != nil {
				return fmt.Errorf("record schema version %d: %w", v+1, err)
			}
		}
		return nil
	})
}

// SchemaVersion returns the schema version of the database.
func (p *Postgres) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := p.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+
		pgx.Identifier{p.schema, "schema_migrations"}.Sanitize()).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("postgres sink: read schema version: %w", err)
	}
	return v, nil
}

// HandleTimeout is PostgresWriteTimeout: the stage pulls no more items at
// a time than fit in its ack deadline at that pace
// (pipeline.StageConfig.HandleTimeout).
func (p *Postgres) HandleTimeout() time.Duration { return PostgresWriteTimeout }

// PostgresWriteTimeout bounds one item's write, connection included. A
// write takes milliseconds (0.7–3.4 ms measured, see docs/sinks.md).
const PostgresWriteTimeout = 10 * time.Second

// Write stores it in one transaction, like SQLite.Write: a version already
// stored is skipped, a newer version replaces the row and its tags.
// Errors that a retry cannot fix (data PostgreSQL refuses) are Permanent.
func (p *Postgres) Write(ctx context.Context, it *pipeline.Item) error {
	r, err := newItemRow(it)
	if err != nil {
		return pipeline.Permanent(fmt.Errorf("postgres sink: %w", err))
	}
	// A server that accepts connections but never answers (overloaded,
	// frozen, a network black hole) fails the write after PostgresWriteTimeout,
	// not after the consumer's 30 s ack deadline; the write is retried.
	ctx, cancel := context.WithTimeout(ctx, PostgresWriteTimeout)
	defer cancel()
	if err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error { return p.write(ctx, tx, r) }); err != nil {
		err = fmt.Errorf("postgres sink: write %s: %w", it.ID, err)
		if pgPermanent(err) {
			return pipeline.Permanent(err)
		}
		return err
	}
	return nil
}

func (p *Postgres) write(ctx context.Context, tx pgx.Tx, r *itemRow) error {
	var published *time.Time
	if !r.published.IsZero() {
		published = &r.published
	}
	tag, err := tx.Exec(ctx, p.q.upsert,
		r.id, r.version, r.feed, r.feedURL, pgText(r.guid), pgText(r.url), r.title, r.authors, r.categories,
		pgText(r.lang), published, r.fetched, r.itemTime, r.text, pgText(r.contentHash), pgText(r.duplicateOf),
		pgText(r.dupKind), pgText(r.storyID), r.tagsJSON, r.tagNames(), r.entitiesJSON, r.isUpdate)
	if err != nil {
		return fmt.Errorf("upsert item: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil // this version was stored before, or is older than the stored one
	}
	// Replace tags and entities in one round trip.
	b := &pgx.Batch{}
	b.Queue(p.q.clearTags, r.id)
	if len(r.tags) > 0 {
		names, kinds := make([]string, len(r.tags)), make([]string, len(r.tags))
		for i, t := range r.tags {
			names[i], kinds[i] = t.Tag, t.Kind
		}
		b.Queue(p.q.tags, r.id, names, kinds)
	}
	b.Queue(p.q.clearEntities, r.id)
	if len(r.entities) > 0 {
		n := len(r.entities)
		ids, kinds, labels, mentions := make([]string, n), make([]string, n), make([]string, n), make([]int32, n)
		for i, e := range r.entities {
			ids[i], kinds[i], labels[i], mentions[i] = e.ID, e.Kind, e.Label, int32(min(max(e.Mentions, 0), 1<<31-1))
		}
		b.Queue(p.q.entities, r.id, ids, kinds, labels, mentions)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("replace tags and entities: %w", err)
	}
	return nil
}

// pgPermanent reports whether err is PostgreSQL refusing the data itself
// (class 22 data exception, class 54 program limit such as an index row
// too large): the same item would fail again.
func pgPermanent(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "54")
}

func pgText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Close closes the pool, waiting for connections in use to be released.
// Prune deletes the items last written before before, with their tags
// and entities (foreign keys cascade) and their version records, in
// batches. It returns how many items it deleted. An item that arrives
// again after it was pruned is stored again.
func (p *Postgres) Prune(ctx context.Context, before time.Time) (int64, error) {
	s := pgx.Identifier{p.schema}.Sanitize()
	var total int64
	for {
		var n int64
		err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `DELETE FROM `+s+`.items WHERE id IN
				(SELECT id FROM `+s+`.items WHERE updated_at < $1 ORDER BY updated_at, id LIMIT $2) RETURNING id`, before, pruneBatch)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			n = int64(len(ids))
			_, err = tx.Exec(ctx, `DELETE FROM `+s+`.item_versions WHERE item_id = ANY($1)`, ids)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("postgres sink: prune: %w", err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}

func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}
