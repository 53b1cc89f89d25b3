package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/sinks"
)

const storiesSynopsis = `stories --db FILE | --dsn DSN [--since 24h] [--tag T] [-n 20] [--json]

Lists the stories stored in the SQLite sink (--db) or the PostgreSQL sink
(--dsn), each story once: how many outlets reported it, its reports and
copies, which outlet had it first, its earliest headline and its most
frequent tags. Most outlets first. It only reads, so it works while
wirewatch runs.`

func runStories(ctx context.Context, args []string, s stdio) error {
	fs := newFlagSet("stories", storiesSynopsis, s)
	db := fs.String("db", s.getenv("WIREWATCH_SQLITE_PATH"), "SQLite database of the sqlite sink (env WIREWATCH_SQLITE_PATH)")
	dsn := fs.String("dsn", "", "PostgreSQL connection string of the postgres sink (env WIREWATCH_POSTGRES_DSN; used when --db is empty)")
	since := fs.Duration("since", 0, "only stories with an item in this last `period` (e.g. 24h); default: all")
	tag := fs.String("tag", "", "only stories with an item carrying this `tag` or entity id")
	limit := fs.Int("n", 20, "at most this many stories (0: all of them)")
	asJSON := fs.Bool("json", false, "one JSON object per story")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if err := fs.noArgs(pos, storiesHint); err != nil {
		return err
	}
	if *limit < 0 {
		return fs.usageErr("-n %d: want 0 (all) or more", *limit)
	}
	if *since < 0 {
		return fs.usageErr("--since %s: want a period back from now, e.g. 24h", *since)
	}
	if *dsn == "" && *db == "" {
		*dsn = s.getenv("WIREWATCH_POSTGRES_DSN")
	}
	switch {
	case *db == "" && *dsn == "":
		return fs.usageErr("no database given: give --db (the daemon's sinks.sqlite.path, env WIREWATCH_SQLITE_PATH) or --dsn (its sinks.postgres.dsn, env WIREWATCH_POSTGRES_DSN)")
	case *db != "" && *dsn != "":
		return fs.usageErr("give --db (the sinks.sqlite.path of the daemon) or --dsn (its sinks.postgres.dsn), not both")
	}
	q := sinks.StoryQuery{Tag: *tag, Limit: *limit}
	if *since > 0 {
		q.Since = time.Now().Add(-*since)
	}
	var stories []sinks.StorySummary
	if *db != "" {
		stories, err = sinks.Stories(ctx, *db, q)
	} else {
		stories, err = sinks.PostgresStories(ctx, *dsn, q)
	}
	if err != nil {
		return err
	}
	for _, st := range stories {
		if *asJSON {
			b, _ := json.Marshal(st)
			fmt.Fprintf(s.out, "%s\n", b)
			continue
		}
		fmt.Fprintf(s.out, "%s  %s\n    %s: %s, %s, %s – %s, first: %s\n",
			st.StoryID, st.Title, count(st.Outlets, "outlet"), count(st.Reports, "report"), count(st.Copies, "copy"),
			st.First.UTC().Format("2006-01-02 15:04"), st.Last.UTC().Format("2006-01-02 15:04"), st.FirstFeed)
		if len(st.Tags) > 0 {
			fmt.Fprintf(s.out, "    tags: %s\n", strings.Join(st.Tags, ", "))
		}
	}
	if len(stories) == 0 {
		fmt.Fprintln(s.err, "no stories")
	}
	return nil
}

// storiesHint says what a stray word of stories was likely meant for.
func storiesHint(w string) string {
	switch {
	case strings.Contains(w, "://") || strings.Contains(w, "dbname="):
		return "give a PostgreSQL DSN with --dsn"
	case strings.HasSuffix(w, ".db") || strings.HasSuffix(w, ".sqlite") || strings.HasSuffix(w, ".sqlite3"):
		return "give the SQLite file with --db"
	}
	return ""
}
