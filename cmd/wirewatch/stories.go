package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/sinks"
)

const storiesSynopsis = `stories [flags]

Lists the stories stored in the SQLite sink (--db) or the PostgreSQL sink
(--dsn), each story once: how many outlets reported it, its reports and
copies, which outlet had it first, its earliest headline and its most
frequent tags. Most outlets first. It only reads, so it works while
wirewatch runs.`

func runStories(ctx context.Context, args []string, s stdio) error {
	fs := newFlagSet("stories", storiesSynopsis, s)
	db := fs.String("db", s.getenv("WIREWATCH_SQLITE_PATH"), "SQLite database of the sqlite sink (env WIREWATCH_SQLITE_PATH)")
	dsn := fs.String("dsn", "", "PostgreSQL connection string of the postgres sink (env WIREWATCH_POSTGRES_DSN; used when --db is empty)")
	since := fs.Duration("since", 0, "only stories with an item in this last period (e.g. 24h); default: all")
	tag := fs.String("tag", "", "only stories with an item carrying this tag or entity id")
	limit := fs.Int("n", 20, "at most this many stories")
	asJSON := fs.Bool("json", false, "one JSON object per story")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dsn == "" && *db == "" {
		*dsn = s.getenv("WIREWATCH_POSTGRES_DSN")
	}
	if (*db == "") == (*dsn == "") {
		fs.Usage()
		return errors.New("stories: give --db (the sinks.sqlite.path of the daemon) or --dsn (its sinks.postgres.dsn), not both")
	}
	q := sinks.StoryQuery{Tag: *tag, Limit: *limit}
	if *since > 0 {
		q.Since = time.Now().Add(-*since)
	}
	var stories []sinks.StorySummary
	var err error
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
