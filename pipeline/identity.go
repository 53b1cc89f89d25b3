package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// identityFile holds the data dir's identity, beside the lock.
const identityFile = "wirewatch.id"

// identity is what identityFile holds: a random ID, and the host and
// directory it was made for. A data dir copied to another place or host
// gets a new ID there, so two live copies never share one.
type identity struct {
	ID   string `json:"id"`
	Host string `json:"host"`
	Dir  string `json:"dir"`
}

// loadIdentity returns the identity of the data dir dir, creating it on
// first use (or when dir was moved, copied to another host, or the file is
// damaged). Call it only while holding dir's lock: the lock is what makes
// the identity one live process's.
func loadIdentity(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	host, err := os.Hostname()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, identityFile)
	var id identity
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if json.Unmarshal(b, &id) == nil && validID(id.ID) && id.Host == host && id.Dir == abs {
			return id.ID, nil
		}
	case !errors.Is(err, os.ErrNotExist):
		return "", err
	}
	var r [16]byte
	_, _ = rand.Read(r[:])
	id = identity{ID: hex.EncodeToString(r[:]), Host: host, Dir: abs}
	b, err = json.Marshal(id)
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return id.ID, nil
}

// validID reports whether s is an ID loadIdentity makes: 32 hex digits.
func validID(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 16
}

// Identity names the process that holds the server's data dir, across its
// restarts: a random ID kept in the data dir (wirewatch.id), made once per
// data dir, host and path. Only the process holding the data dir lock has
// it, so whatever an earlier holder of the same identity left behind (the
// poller's feed leases) belongs to a process that is gone. Empty where the
// data dir cannot be locked (no flock) or the file could not be written:
// then nothing can be known about earlier holders.
func (s *Server) Identity() string { return s.id }

// dataDirIdentity is loadIdentity for a locked data dir, or "" (logged)
// when there is no lock or the identity cannot be kept.
func dataDirIdentity(cfg ServerConfig, locked bool) string {
	if !locked {
		return ""
	}
	id, err := loadIdentity(cfg.DataDir)
	if err != nil {
		if cfg.Log != nil {
			cfg.Log.Warn("no data dir identity: a restart waits out its predecessor's feed leases", "err", fmt.Errorf("%s: %w", identityFile, err))
		}
		return ""
	}
	return id
}
