package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/wirewatch/wirewatch/parser"
)

const extractSynopsis = `extract [--url U] [--content-type CT] [--fragment] [--title] [FILE]
       wirewatch extract --batch [--fragment] IN_DIR OUT_DIR

Prints the body text wirewatch keeps from an article page (or, with
--fragment, from a feed item's HTML content) read from FILE or stdin.
--batch extracts every IN_DIR/<id>.html to OUT_DIR/<id>.txt in one process;
IN_DIR/urls.tsv (id<TAB>url), when present, gives each page's URL. This is
the batch convention of tools/extract-eval.`

// runExtract implements "wirewatch extract". stdin is read when no FILE is
// given; the text goes to stdout, help to stdout, diagnostics to stderr.
func runExtract(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("extract", extractSynopsis, stdio{in: stdin, out: stdout, err: stderr})
	pageURL := fs.String("url", "", "the page's `URL` (for diagnostics; default: $PAGE_URL)")
	fragment := fs.Bool("fragment", false, "treat the input as a feed HTML fragment, not a full page")
	contentType := fs.String("content-type", "", "the HTTP Content-Type of the page, for its charset")
	batch := fs.Bool("batch", false, "extract IN_DIR/*.html into OUT_DIR/*.txt")
	showTitle := fs.Bool("title", false, "print the title and language before the text")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if *batch {
		if len(pos) != 2 {
			return fs.usageErr("--batch: want IN_DIR OUT_DIR, got %d arguments", len(pos))
		}
		return extractBatch(ctx, pos[0], pos[1], *fragment)
	}
	if len(pos) > 1 {
		return fs.usageErr("unexpected argument %q (at most one FILE; --batch IN_DIR OUT_DIR extracts many)", pos[1])
	}
	in, name := stdin, "stdin"
	if len(pos) == 1 {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		defer f.Close()
		in, name = f, pos[0]
	}
	page, err := io.ReadAll(io.LimitReader(in, parser.MaxPageSize))
	if err != nil {
		var pathErr *os.PathError
		if errors.As(err, &pathErr) { // it names the file already
			return fmt.Errorf("extract: %w", err)
		}
		return fmt.Errorf("extract: read %s: %w", name, err)
	}
	if *pageURL == "" {
		*pageURL = os.Getenv("PAGE_URL")
	}
	if *fragment {
		_, err = fmt.Fprintln(stdout, parser.Text(string(page)))
		return err
	}
	a, err := parser.ExtractArticle(page, *contentType, *pageURL)
	if err != nil {
		return fmt.Errorf("extract %s: %w", name, err)
	}
	w := bufio.NewWriter(stdout)
	if *showTitle {
		fmt.Fprintf(w, "title: %s\nlang: %s\nsource: %s\n\n", a.Title, a.Lang, a.Source)
	}
	fmt.Fprintln(w, a.Text)
	return w.Flush()
}

// extractBatch extracts every <id>.html of in into out/<id>.txt. A page that
// cannot be read or written stops the batch; one that yields no text gets an
// empty file.
func extractBatch(ctx context.Context, in, out string, fragment bool) error {
	urls, err := readURLs(filepath.Join(in, "urls.tsv"))
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(in)
	if err != nil {
		return fmt.Errorf("extract --batch: %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("extract --batch: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		id, ok := strings.CutSuffix(e.Name(), ".html")
		if !ok || e.IsDir() {
			continue
		}
		page, err := os.ReadFile(filepath.Join(in, e.Name()))
		if err != nil {
			return fmt.Errorf("extract --batch: %w", err)
		}
		var text string
		if fragment {
			text = parser.Text(string(page))
		} else {
			a, err := parser.ExtractArticle(page, "", urls[id])
			if err != nil {
				return fmt.Errorf("extract --batch %s: %w", e.Name(), err)
			}
			text = a.Text
		}
		if err := os.WriteFile(filepath.Join(out, id+".txt"), []byte(text+"\n"), 0o644); err != nil {
			return fmt.Errorf("extract --batch: %w", err)
		}
	}
	return nil
}

// readURLs reads id<TAB>url lines; a missing file is no error.
func readURLs(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("extract --batch: %w", err)
	}
	urls := map[string]string{}
	for line := range strings.Lines(string(b)) {
		id, u, ok := strings.Cut(strings.TrimRight(line, "\r\n"), "\t")
		if ok {
			urls[id] = u
		}
	}
	return urls, nil
}
