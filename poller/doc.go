// Package poller fetches feeds over HTTP, politely and safely, and hands
// each changed document to the parser and its items to a Publisher.
//
// It owns: per-feed scheduling (a heap of due times, adapted to the
// server's caching hints within a floor and a ceiling, with jitter);
// conditional GET with stored validators; capped exponential backoff;
// Retry-After per host; 410 and permanent-redirect handling; per-host and
// global concurrency limits with a minimum gap between requests to one host;
// the guarded HTTP client (timeouts, body and decompressed-size caps,
// redirect limits, addresses checked after DNS resolution); feed state in a
// JetStream KV bucket so a restart resumes on schedule; KV leases so that
// several instances fetch each due feed once; OPML import and export; feed
// discovery; full-text page fetches for feeds that ask for them.
//
// It must not: parse feeds itself (that is package parser), write to any
// stream other than through the Publisher it is given, log through
// slog.Default, or special-case any outlet. It never panics on what a
// server sends.
package poller
