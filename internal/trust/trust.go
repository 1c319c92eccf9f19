// Package trust remembers which settings of a project's .ralph/config.toml
// the user approved. The agent writes the workspace, config file included,
// so a setting that reaches the host (a command to run, a host variable to
// pass in, the sandbox to use) is obeyed only when the user approved that
// exact value for that project, as direnv's `allow` and mise's `trust` do.
// Approvals live outside every workspace, in the user's config folder,
// readable by the user only.
package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/ralphloop/ralph/internal/atomicfile"
)

// Settings maps a config key to its value as ralph shows it (strings
// quoted, lists in brackets): the exact thing approved.
type Settings map[string]string

// Store keeps approvals, one file per project, in Dir.
type Store struct {
	Dir string
}

type record struct {
	Project  string    `json:"project"`
	Approved time.Time `json:"approved"`
	Settings Settings  `json:"settings"`
}

func (s Store) path(project string) string {
	sum := sha256.Sum256([]byte(project))
	return filepath.Join(s.Dir, hex.EncodeToString(sum[:12])+".json")
}

// Approved returns what the user approved for project (empty when nothing).
func (s Store) Approved(project string) (Settings, error) {
	data, err := os.ReadFile(s.path(project))
	if errors.Is(err, os.ErrNotExist) {
		return Settings{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("trust: %s: %w", s.path(project), err)
	}
	if r.Project != project || r.Settings == nil {
		return Settings{}, nil
	}
	return r.Settings, nil
}

// Approve records set as the approved settings of project, replacing
// what was approved before.
func (s Store) Approve(project string, set Settings) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	data, err := json.MarshalIndent(record{Project: project, Approved: time.Now().UTC(), Settings: set}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.path(project), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	return nil
}

// Revoke forgets project's approval; nil when there was none.
func (s Store) Revoke(project string) error {
	if err := os.Remove(s.path(project)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("trust: %w", err)
	}
	return nil
}

// Change is a setting that is not approved as it stands.
type Change struct {
	Key string
	// Was is the approved value ("" when the key was never approved);
	// Now is the value in the file.
	Was, Now string
}

// Unapproved lists the settings of want that approved does not hold with
// the same value, sorted by key.
func Unapproved(approved, want Settings) []Change {
	var out []Change
	for k, v := range want {
		if was, ok := approved[k]; !ok || was != v {
			out = append(out, Change{Key: k, Was: approved[k], Now: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
