package sinks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

// JSONLConfig says where and how the JSONL sink writes.
type JSONLConfig struct {
	// Path is the file, created if missing; its directory must exist.
	Path string
	// Fsync makes every write durable on disk before it is acknowledged.
	Fsync bool
	// MaxSize rotates the file before a write would take it past this
	// many bytes: it is renamed to <name>-<UTC time><ext> beside it
	// (items-20261121T132124.123Z.jsonl) and a new file is started. 0
	// never rotates.
	MaxSize int64
	// MaxFiles is how many rotated files are kept; beyond it the oldest
	// are deleted at each rotation. 0 keeps them all.
	MaxFiles int
}

// Validate reports every problem of c, joined.
func (c JSONLConfig) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("jsonl sink: path is empty"))
	}
	if c.MaxSize < 0 {
		errs = append(errs, fmt.Errorf("jsonl sink: max_size %d is negative", c.MaxSize))
	}
	if c.MaxFiles < 0 {
		errs = append(errs, fmt.Errorf("jsonl sink: max_files %d is negative", c.MaxFiles))
	}
	return errors.Join(errs...)
}

// rotatedLayout is the time in a rotated file's name: fixed width, so that
// names sort by time.
const rotatedLayout = "20060102T150405.000Z"

// JSONL appends one item per line to a file. It keeps an index of the item
// versions already written (rebuilt from the file, and from the newest
// file it rotated, on open), so a redelivered item is written once and an
// edited item (new version) is appended as a new line. It follows the
// file being moved, deleted or truncated by another program (logrotate,
// with or without copytruncate): the next write goes to a new file at the
// path. Safe for concurrent use; Close closes the file.
type JSONL struct {
	mu   sync.Mutex
	cfg  JSONLConfig
	f    *os.File // nil after a failed reopen: the next write tries again
	file os.FileInfo
	size int64
	// written holds the versions in the current file, prev those in the
	// one before it (rotated, or moved away), which a redelivery of the
	// last items written there must still find.
	written, prev map[string]struct{}
	now           func() time.Time
	closed        bool
}

var _ pipeline.Sink = (*JSONL)(nil)

// OpenJSONL opens (or creates) cfg.Path for appending. A torn last line
// left by a crash is cut off, since its item was never acknowledged and
// will be redelivered.
func OpenJSONL(cfg JSONLConfig) (*JSONL, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &JSONL{cfg: cfg, prev: map[string]struct{}{}, now: time.Now}
	if err := s.open(); err != nil {
		return nil, fmt.Errorf("jsonl sink %s: %w", cfg.Path, err)
	}
	if old := s.rotated(); len(old) > 0 {
		f, err := os.Open(old[len(old)-1])
		if err != nil {
			s.f.Close()
			return nil, fmt.Errorf("jsonl sink: %w", err)
		}
		s.prev, _, err = readVersions(f, false)
		f.Close()
		if err != nil {
			s.f.Close()
			return nil, fmt.Errorf("jsonl sink %s: %w", old[len(old)-1], err)
		}
	}
	return s, nil
}

// open opens the file at the path, creating it, reads its versions and
// cuts off a torn last line.
func (s *JSONL) open() error {
	f, err := os.OpenFile(s.cfg.Path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if err := lockJSONL(f); err != nil {
		f.Close()
		return err
	}
	written, size, err := readVersions(f, true)
	if err == nil {
		s.file, err = f.Stat()
	}
	if err != nil {
		f.Close()
		return err
	}
	s.f, s.written, s.size = f, written, size
	return nil
}

// readVersions reads the item versions in f, and the length of its whole
// lines. A last line without its newline (a torn write) is not counted;
// with repair, it is cut off.
func readVersions(f *os.File, repair bool) (map[string]struct{}, int64, error) {
	versions := make(map[string]struct{})
	r := bufio.NewReaderSize(f, 1<<16)
	var good int64
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(b) > 0 && repair {
				if err := f.Truncate(good); err != nil {
					return nil, 0, err
				}
			}
			return versions, good, nil
		}
		if err != nil {
			return nil, 0, err
		}
		var it pipeline.Item
		if err := json.Unmarshal(bytes.TrimSpace(b), &it); err != nil {
			return nil, 0, fmt.Errorf("line %d is not an item (move the file aside to start a new one): %w", line, err)
		}
		versions[it.Version()] = struct{}{}
		good += int64(len(b))
	}
}

// Write appends it unless this version is already in the file (or in the
// file before it).
func (s *JSONL) Write(_ context.Context, it *pipeline.Item) error {
	v := it.Version()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("jsonl sink %s: closed", s.cfg.Path)
	}
	if err := s.checkFile(); err != nil {
		return fmt.Errorf("jsonl sink %s: %w", s.cfg.Path, err)
	}
	_, done := s.written[v]
	if _, ok := s.prev[v]; ok || done {
		return nil
	}
	b, err := json.Marshal(it)
	if err != nil {
		return pipeline.Permanent(fmt.Errorf("jsonl sink: encode %s: %w", it.ID, err))
	}
	b = append(b, '\n')
	if s.cfg.MaxSize > 0 && s.size > 0 && s.size+int64(len(b)) > s.cfg.MaxSize {
		if err := s.rotate(); err != nil {
			return fmt.Errorf("jsonl sink %s: %w", s.cfg.Path, err)
		}
	}
	if err := s.write(b); err != nil {
		return fmt.Errorf("jsonl sink %s: %w", s.cfg.Path, err)
	}
	s.written[v] = struct{}{}
	return nil
}

// write appends b, fsynced if configured. A failed write is cut off again
// (a full disk may have taken part of it), so that the next item does not
// follow a torn line.
func (s *JSONL) write(b []byte) error {
	_, err := s.f.Write(b)
	if err == nil && s.cfg.Fsync {
		err = s.f.Sync()
	}
	if err != nil {
		if terr := s.f.Truncate(s.size); terr != nil {
			err = errors.Join(err, fmt.Errorf("cut off the failed write: %w", terr))
		}
		return err
	}
	s.size += int64(len(b))
	return nil
}

// checkFile reopens the path when the open file is no longer there (moved
// or deleted) or was truncated by someone else (logrotate's copytruncate):
// the versions written so far become the previous file's.
func (s *JSONL) checkFile() error {
	if s.f == nil {
		return s.open()
	}
	fi, err := os.Stat(s.cfg.Path)
	switch {
	case err == nil && os.SameFile(fi, s.file):
		if fi.Size() < s.size { // truncated under us
			s.prev, s.written, s.size = s.written, map[string]struct{}{}, fi.Size()
		}
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("check the file: %w", err)
	}
	s.f.Close()
	s.f = nil
	s.prev, s.written = s.written, map[string]struct{}{}
	return s.open()
}

// rotate renames the full file out of the way, starts a new one at the
// path and deletes the oldest rotated files beyond MaxFiles.
func (s *JSONL) rotate() error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	name := s.rotatedName()
	if err := os.Rename(s.cfg.Path, name); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	s.f.Close()
	s.f = nil
	s.prev, s.written = s.written, map[string]struct{}{}
	if err := s.open(); err != nil {
		return fmt.Errorf("rotated to %s, then: %w", name, err)
	}
	if n := s.cfg.MaxFiles; n > 0 {
		old := s.rotated()
		for len(old) > n {
			os.Remove(old[0]) // best effort: a file left behind is only disk space
			old = old[1:]
		}
	}
	return nil
}

// rotatedName is a name for the current file that sorts after every file
// rotated before, even when the clock stands still or goes back.
func (s *JSONL) rotatedName() string {
	stem, ext := s.splitPath()
	t := s.now().UTC().Truncate(time.Millisecond)
	if old := s.rotated(); len(old) > 0 {
		last, _ := time.Parse(rotatedLayout, s.rotatedTime(old[len(old)-1]))
		if !t.After(last) {
			t = last.Add(time.Millisecond)
		}
	}
	return stem + "-" + t.Format(rotatedLayout) + ext
}

// rotated lists the files rotate made, oldest first.
func (s *JSONL) rotated() []string {
	stem, ext := s.splitPath()
	names, _ := filepath.Glob(escapeGlob(stem) + "-*" + escapeGlob(ext))
	var out []string
	for _, n := range names {
		if _, err := time.Parse(rotatedLayout, s.rotatedTime(n)); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// rotatedTime is the time part of a rotated file's name.
func (s *JSONL) rotatedTime(name string) string {
	stem, ext := s.splitPath()
	return strings.TrimSuffix(strings.TrimPrefix(name, stem+"-"), ext)
}

func (s *JSONL) splitPath() (stem, ext string) {
	ext = filepath.Ext(s.cfg.Path)
	return strings.TrimSuffix(s.cfg.Path, ext), ext
}

// escapeGlob quotes the characters filepath.Match treats specially.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Len returns how many item versions the current file holds.
func (s *JSONL) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.written)
}

// Close syncs and closes the file.
func (s *JSONL) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.f == nil {
		return nil
	}
	f := s.f
	s.f = nil
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("jsonl sink %s: %w", s.cfg.Path, err)
	}
	return f.Close()
}
