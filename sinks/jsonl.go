package sinks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/wirewatch/wirewatch/pipeline"
)

// JSONL appends one item per line to a file. It keeps an index of the item
// versions already in the file (rebuilt from the file on open), so a
// redelivered item is written once and an edited item (new version) is
// appended as a new line. Safe for concurrent use; Close closes the file.
type JSONL struct {
	mu      sync.Mutex
	f       *os.File
	path    string
	written map[string]struct{}
	sync    bool
}

var _ pipeline.Sink = (*JSONL)(nil)

// OpenJSONL opens (or creates) path for appending. A torn last line left
// by a crash is cut off, since its item was never acknowledged and will be
// redelivered. With syncEach, every write is fsynced before it is
// acknowledged.
func OpenJSONL(path string, syncEach bool) (*JSONL, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("jsonl sink: %w", err)
	}
	s := &JSONL{f: f, path: path, written: make(map[string]struct{}), sync: syncEach}
	if err := s.load(); err != nil {
		f.Close()
		return nil, fmt.Errorf("jsonl sink %s: %w", path, err)
	}
	return s, nil
}

func (s *JSONL) load() error {
	r := bufio.NewReaderSize(s.f, 1<<16)
	var good int64
	line := 0
	for {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(b) > 0 { // torn write: drop it
				if err := s.f.Truncate(good); err != nil {
					return err
				}
			}
			break
		}
		if err != nil {
			return err
		}
		line++
		var it pipeline.Item
		if err := json.Unmarshal(bytes.TrimSpace(b), &it); err != nil {
			return fmt.Errorf("line %d is not an item: %w", line, err)
		}
		s.written[it.Version()] = struct{}{}
		good += int64(len(b))
	}
	_, err := s.f.Seek(good, io.SeekStart)
	return err
}

// Write appends it unless this version is already in the file.
func (s *JSONL) Write(_ context.Context, it *pipeline.Item) error {
	v := it.Version()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.written[v]; ok {
		return nil
	}
	b, err := json.Marshal(it)
	if err != nil {
		return pipeline.Permanent(fmt.Errorf("jsonl sink: encode %s: %w", it.ID, err))
	}
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("jsonl sink %s: %w", s.path, err)
	}
	if s.sync {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("jsonl sink %s: %w", s.path, err)
		}
	}
	s.written[v] = struct{}{}
	return nil
}

// Len returns how many item versions the file holds.
func (s *JSONL) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.written)
}

// Close syncs and closes the file.
func (s *JSONL) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		return fmt.Errorf("jsonl sink %s: %w", s.path, err)
	}
	return s.f.Close()
}
