package sinks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/wirewatch/wirewatch/pipeline"
)

// postgresDSN returns a DSN for a fresh schema of the test database named
// by WIREWATCH_TEST_POSTGRES_DSN, dropped when the test ends.
func postgresDSN(t *testing.T) (dsn, schema string) {
	t.Helper()
	base := os.Getenv("WIREWATCH_TEST_POSTGRES_DSN")
	if base == "" {
		const how = "WIREWATCH_TEST_POSTGRES_DSN is not set; run .ci/run, or start PostgreSQL and set it, e.g. " +
			"postgres://wirewatch:wirewatch@127.0.0.1:5432/wirewatch_test?sslmode=disable"
		if os.Getenv("CI") != "" {
			t.Fatal(how)
		}
		t.Skip(how)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema = "wwtest_" + hex.EncodeToString(b)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("WIREWATCH_TEST_POSTGRES_DSN must be a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	return u.String(), schema
}

func openTestPostgres(t *testing.T, dsn string) *Postgres {
	t.Helper()
	p, err := OpenPostgres(t.Context(), dsn)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func pgCount(t *testing.T, p *Postgres, query string, args ...any) int {
	t.Helper()
	var n int
	if err := p.pool.QueryRow(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestPostgresWrite(t *testing.T) {
	dsn, schema := postgresDSN(t)
	p := openTestPostgres(t, dsn)
	ctx := t.Context()
	if p.schema != schema {
		t.Fatalf("schema = %q, want %q from search_path", p.schema, schema)
	}
	a := testItem("a", "ceasefire", "alaska-summit")
	b := testItem("b", "alaska-summit")
	b.DuplicateOf, b.DupKind = "a", pipeline.DupSyndicated
	b.Published = time.Time{} // no date in the feed: stored as NULL
	for _, it := range []*pipeline.Item{a, b, a, b} {
		if err := p.Write(ctx, it); err != nil {
			t.Fatalf("Write(%s): %v", it.ID, err)
		}
	}
	// Unqualified names resolve through the DSN's search_path.
	if got := pgCount(t, p, `SELECT count(*) FROM items`); got != 2 {
		t.Errorf("items after redelivery = %d rows, want 2", got)
	}
	if got := pgCount(t, p, `SELECT count(*) FROM item_tags`); got != 3 {
		t.Errorf("item_tags = %d rows, want 3", got)
	}
	var (
		version, title       string
		published            *time.Time
		fetched              time.Time
		dupOf                *string
		tagNames             []string
		tagsJSON, authorJSON string
	)
	err := p.pool.QueryRow(ctx, `SELECT version, title, published, fetched, duplicate_of, tag_names,
		tags::text, authors::text FROM items WHERE id = 'b'`).Scan(
		&version, &title, &published, &fetched, &dupOf, &tagNames, &tagsJSON, &authorJSON)
	if err != nil {
		t.Fatal(err)
	}
	if version != b.Version() || title != b.Title || published != nil || !fetched.Equal(b.Fetched) ||
		dupOf == nil || *dupOf != "a" || !slices.Equal(tagNames, []string{"alaska-summit"}) {
		t.Errorf("row b = %q %q published %v fetched %v dup_of %v tag_names %v; want %q %q nil %v a [alaska-summit]",
			version, title, published, fetched, dupOf, tagNames, b.Version(), b.Title, b.Fetched)
	}
	if !strings.Contains(tagsJSON, `"evidence"`) || authorJSON != `["A. Writer"]` {
		t.Errorf("row b tags %s authors %s, want evidence kept and [\"A. Writer\"]", tagsJSON, authorJSON)
	}

	// Edit: the row and its tags change; an old version redelivered later
	// does not roll it back.
	aEdited := *a
	aEdited.Title, aEdited.Update = "Title a (updated)", true
	aEdited.Tags = []pipeline.Tag{{Tag: "sanctions", Kind: "topic"}}
	for _, it := range []*pipeline.Item{&aEdited, a, &aEdited} {
		if err := p.Write(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	var isUpdate bool
	p.pool.QueryRow(ctx, `SELECT title, is_update, tag_names FROM items WHERE id = 'a'`).Scan(&title, &isUpdate, &tagNames)
	if title != aEdited.Title || !isUpdate || !slices.Equal(tagNames, []string{"sanctions"}) {
		t.Errorf("row a after edit = %q update %v tags %v, want %q true [sanctions]", title, isUpdate, tagNames, aEdited.Title)
	}
	if got := pgCount(t, p, `SELECT count(*) FROM item_tags WHERE item_id = 'a'`); got != 1 {
		t.Errorf("item_tags of a after edit = %d, want 1", got)
	}
	if got := pgCount(t, p, `SELECT count(*) FROM item_versions WHERE item_id = 'a'`); got != 2 {
		t.Errorf("versions of a = %d, want 2", got)
	}
	// An edit fetched before the stored version (delivered out of order)
	// is recorded but does not replace the row.
	stale := *a
	stale.Title, stale.Fetched = "Title a (stale edit)", a.Fetched.Add(-time.Hour)
	if err := p.Write(ctx, &stale); err != nil {
		t.Fatal(err)
	}
	p.pool.QueryRow(ctx, `SELECT title FROM items WHERE id = 'a'`).Scan(&title)
	if title != aEdited.Title {
		t.Errorf("after stale edit, title of a = %q, want %q", title, aEdited.Title)
	}

	// The example queries of docs/sinks.md.
	now := time.Date(2025, 8, 20, 0, 0, 0, 0, time.UTC)
	if got := pgCount(t, p, `SELECT count(*) FROM items WHERE tag_names @> ARRAY['alaska-summit']
		AND item_time >= $1::timestamptz - interval '7 days'`, now); got != 1 {
		t.Errorf("items tagged alaska-summit this week (tag_names) = %d, want 1", got)
	}
	if got := pgCount(t, p, `SELECT count(*) FROM items i JOIN item_tags t ON t.item_id = i.id
		WHERE t.tag = 'alaska-summit' AND i.item_time >= $1::timestamptz - interval '7 days'`, now); got != 1 {
		t.Errorf("items tagged alaska-summit this week (item_tags) = %d, want 1", got)
	}
	if got := pgCount(t, p, `SELECT count(*) FROM items WHERE entities @> '[{"id":"anchorage"}]'`); got != 2 {
		t.Errorf("items mentioning anchorage (jsonb) = %d, want 2", got)
	}

	// Reopen: data kept, no migration repeated.
	p.Close()
	p2 := openTestPostgres(t, dsn)
	if v, err := p2.SchemaVersion(ctx); err != nil || v != len(postgresSchema) {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, len(postgresSchema))
	}
	if err := p2.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := pgCount(t, p2, `SELECT count(*) FROM items`); got != 2 {
		t.Errorf("items after reopen = %d, want 2", got)
	}
}

func TestPostgresHostileText(t *testing.T) {
	dsn, _ := postgresDSN(t)
	p := openTestPostgres(t, dsn)
	it := testItem("x", "tag\x00nul")
	it.Title = "bad \xff utf8 and \x00 nul"
	it.Text = "'); DROP TABLE items; --"
	it.Entities = append(it.Entities, it.Entities[0]) // repeated entity
	if err := p.Write(t.Context(), it); err != nil {
		t.Fatalf("Write(hostile item): %v", err)
	}
	var title, text string
	var mentions int
	p.pool.QueryRow(t.Context(), `SELECT title, text FROM items`).Scan(&title, &text)
	p.pool.QueryRow(t.Context(), `SELECT mentions FROM item_entities`).Scan(&mentions)
	if title != "bad \uFFFD utf8 and  nul" || text != it.Text || mentions != 4 {
		t.Errorf("stored title %q text %q mentions %d; want NUL dropped, U+FFFD, SQL kept as text, 4", title, text, mentions)
	}

	// Data PostgreSQL refuses is Permanent: a 10 KB tag name does not fit
	// a btree index row (class 54), and retrying will not change that.
	huge := testItem("huge", strings.Repeat("z", 10000)+randomText(3000))
	err := p.Write(t.Context(), huge)
	if err == nil || !pipeline.IsPermanent(err) {
		t.Errorf("Write(10 KB tag) = %v, want a Permanent error", err)
	}
}

// randomText returns incompressible letters, so PostgreSQL cannot shrink a
// value under the index row limit by compressing it.
func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return string(b)
}

// TestPostgresOpenRace opens the same fresh schema from several goroutines
// at once, as several wirewatch processes starting together would.
func TestPostgresOpenRace(t *testing.T) {
	dsn, _ := postgresDSN(t)
	const n = 4
	sinks := make([]*Postgres, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { sinks[i], errs[i] = OpenPostgres(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("OpenPostgres #%d: %v", i, err)
			continue
		}
		defer sinks[i].Close()
	}
	if err := errors.Join(errs...); err != nil {
		t.FailNow()
	}
	if got := pgCount(t, sinks[0], `SELECT count(*) FROM schema_migrations`); got != len(postgresSchema) {
		t.Errorf("schema_migrations has %d rows, want %d", got, len(postgresSchema))
	}
	// The handles write concurrently, overlapping on the same items.
	var wwg sync.WaitGroup
	werrs := make(chan error, n)
	for i, s := range sinks {
		wwg.Go(func() {
			for j := range 30 {
				if err := s.Write(t.Context(), testItem(fmt.Sprintf("item-%d", (i/2)*30+j), "t1", "t2")); err != nil {
					werrs <- err
					return
				}
			}
		})
	}
	wwg.Wait()
	close(werrs)
	for err := range werrs {
		t.Errorf("concurrent Write: %v", err)
	}
	if got := pgCount(t, sinks[0], `SELECT count(*) FROM items`); got != n/2*30 {
		t.Errorf("items = %d, want %d", got, n/2*30)
	}
	if got := pgCount(t, sinks[0], `SELECT count(*) FROM item_tags`); got != n/2*30*2 {
		t.Errorf("item_tags = %d, want %d", got, n/2*30*2)
	}
}

func TestPostgresRejectsNewerSchema(t *testing.T) {
	dsn, _ := postgresDSN(t)
	p := openTestPostgres(t, dsn)
	if _, err := p.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version) VALUES ($1)`, len(postgresSchema)+1); err != nil {
		t.Fatal(err)
	}
	if p2, err := OpenPostgres(t.Context(), dsn); err == nil {
		p2.Close()
		t.Fatalf("OpenPostgres(schema from the future) = nil error, want one")
	}
}

func TestPostgresBadDSN(t *testing.T) {
	_, err := OpenPostgres(t.Context(), "postgres://user:s3cret@127.0.0.1:1/db?sslmode=bogus")
	if err == nil {
		t.Fatal("OpenPostgres(bad dsn) = nil error")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestSchemaOf(t *testing.T) {
	tests := map[string]string{
		"":                  "public",
		"news":              "news",
		" news , public":    "news",
		`"$user", public`:   "public",
		`"My ""Schema"""`:   `My "Schema"`,
		`wirewatch,"other"`: "wirewatch",
	}
	for in, want := range tests {
		if got := schemaOf(in); got != want {
			t.Errorf("schemaOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkPostgresWrite(b *testing.B) {
	if os.Getenv("WIREWATCH_TEST_POSTGRES_DSN") == "" {
		b.Skip("WIREWATCH_TEST_POSTGRES_DSN is not set")
	}
	base := os.Getenv("WIREWATCH_TEST_POSTGRES_DSN")
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", "wwbench")
	u.RawQuery = q.Encode()
	p, err := OpenPostgres(b.Context(), u.String())
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		p.pool.Exec(context.Background(), `DROP SCHEMA wwbench CASCADE`)
		p.Close()
	}()
	benchWrites(b, p.Write)
}

func TestPostgresConfig(t *testing.T) {
	tests := []struct {
		dsn     string
		wantErr bool
		want    string
	}{
		{"postgres://ww:SECRET@db:5432/news?sslmode=require", false, "postgres://ww:REDACTED@db:5432/news?sslmode=require"},
		{"postgres://db/news?password=SECRET&sslmode=disable", false, "postgres://db/news?password=REDACTED&sslmode=disable"},
		{"host=db user=ww password=SECRET dbname=news", false, "host=db user=ww password=REDACTED dbname=news"},
		{"host=db password='SE CRET' dbname=news", false, "host=db password=REDACTED dbname=news"},
		{"postgres://db/news", false, "postgres://db/news"},
		{"", true, ""},
		{"postgres://ww:SECRET@db:5432/news?sslmode=bogus", true, "postgres://ww:REDACTED@db:5432/news?sslmode=bogus"},
		// sslpassword (the client key's) in either form.
		{"postgres://ww@db/news?sslpassword=SECRET&sslmode=verify-full", false, "postgres://ww@db/news?sslmode=verify-full&sslpassword=REDACTED"},
		{"host=db sslpassword=SECRET sslmode=verify-full", false, "host=db sslpassword=REDACTED sslmode=verify-full"},
		// URLs url.Parse does not read as libpq does: REDACTED whole.
		{"postgres://ww:p%SECRET@db:5432/news", true, "REDACTED"},      // not a %-escape: neither parses it
		{"postgres://ww:pa#SECRET@db:5432/news", false, "REDACTED"},    // url.Parse fails
		{"postgres://ww:12#SECRET@db:5432/news", false, "REDACTED"},    // url.Parse: port 12, fragment SECRET@…
		{"postgres://ww:1234?SECRET@db/news", false, "REDACTED"},       // url.Parse: port 1234, query SECRET@…
		{"postgres://db/news?sslpassword=SECRET%zz", true, "REDACTED"}, // the query does not parse
		{"postgres://ww:SECRET@h1:5432,h2:5433/news", false, "postgres://ww:REDACTED@h1:5432,h2:5433/news"},
	}
	for _, tt := range tests {
		c := PostgresConfig{DSN: tt.dsn}
		err := c.Validate()
		if (err != nil) != tt.wantErr {
			t.Errorf("Validate(%q) = %v, want error %v", tt.dsn, err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Validate(%q) = %v, echoes the password", tt.dsn, err)
		}
		if got := c.Redacted().DSN; got != tt.want {
			t.Errorf("Redacted(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
	if err := (PostgresConfig{DSN: "postgres://db/news", Retention: time.Minute}).Validate(); err == nil || !strings.Contains(err.Error(), "retention") {
		t.Errorf("Validate(retention 1m) = %v, want a retention error", err)
	}
}

// TestPostgresConnectionLoss kills the sink's server connections between
// writes, as a database restart would: a write may fail (retryably, never
// Permanent), and the next one succeeds on a fresh connection.
func TestPostgresConnectionLoss(t *testing.T) {
	dsn, _ := postgresDSN(t)
	p := openTestPostgres(t, dsn)
	ctx := t.Context()
	if err := p.Write(ctx, testItem("before")); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE usename = current_user AND pid <> pg_backend_pid() AND application_name = ''`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no sink connection to terminate")
	}
	var lastErr error
	stored := false
	for attempt := range 3 { // what the consumer would do, without the backoff
		lastErr = p.Write(ctx, testItem("after"))
		if lastErr == nil {
			stored = true
			break
		}
		t.Logf("attempt %d after connection loss: %v", attempt+1, lastErr)
		if pipeline.IsPermanent(lastErr) {
			t.Fatalf("attempt %d after connection loss: %v is Permanent, want retryable", attempt+1, lastErr)
		}
	}
	if !stored {
		t.Fatalf("Write after connection loss never succeeded: %v", lastErr)
	}
	if got := pgCount(t, p, `SELECT count(*) FROM items`); got != 2 {
		t.Errorf("items = %d, want 2", got)
	}
}

func TestPostgresPrune(t *testing.T) {
	dsn, _ := postgresDSN(t)
	p := openTestPostgres(t, dsn)
	testPrune(t, p, func(q, id string) int { return pgCount(t, p, q, id) })
}
