// Package secret keeps the user's API credentials outside every workspace
// and hands them to the network gate, which adds them to the requests of
// their API only (decision 011): inside the sandbox the agent's key
// variable holds a placeholder and its base URL names the gate's route.
// Values live in one file per secret in ralph's config folder (0600 in a
// 0700 folder), or come from a command run at each loop start
// (--from-command 'gh auth token'); nothing ralph prints shows a value.
package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ralphloop/ralph/internal/atomicfile"
	"github.com/ralphloop/ralph/internal/proc"
)

// Secret is one stored credential: a value, or the command that prints it.
type Secret struct {
	Name        string `json:"name"`
	Value       string `json:"value,omitempty"`
	FromCommand string `json:"from_command,omitempty"`
}

// Store is a folder of secrets ($XDG_CONFIG_HOME/ralph/secrets).
type Store struct{ Dir string }

// ErrNotFound is a secret that is not stored.
var ErrNotFound = errors.New("no such secret")

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func (s Store) path(name string) (string, error) {
	if !validName.MatchString(name) {
		return "", fmt.Errorf("secret name %q: use lowercase letters, digits, - and _ (e.g. anthropic)", name)
	}
	return filepath.Join(s.Dir, name+".json"), nil
}

// Set stores sec, replacing any secret of its name.
func (s Store) Set(sec Secret) error {
	p, err := s.path(sec.Name)
	if err != nil {
		return err
	}
	if (sec.Value == "") == (sec.FromCommand == "") {
		return errors.New("secret: give a value or a command, not both or neither")
	}
	if sec.Value != "" {
		if err := Valid(sec.Value); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	os.Chmod(s.Dir, 0o700)
	b, _ := json.Marshal(sec)
	// 0600 from the start (the temporary file is made so): readable by
	// the user alone.
	if err := atomicfile.Write(p, b, 0o600); err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	return nil
}

// Get reads the secret name.
func (s Store) Get(name string) (Secret, error) {
	p, err := s.path(name)
	if err != nil {
		return Secret{}, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return Secret{}, fmt.Errorf("secret %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Secret{}, fmt.Errorf("secret: %w", err)
	}
	var sec Secret
	if err := json.Unmarshal(b, &sec); err != nil || sec.Name != name {
		return Secret{}, fmt.Errorf("secret %s: %s is damaged: set it again", name, p)
	}
	return sec, nil
}

// Names lists the stored secrets.
func (s Store) Names() ([]string, error) {
	files, err := filepath.Glob(filepath.Join(s.Dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		n := strings.TrimSuffix(filepath.Base(f), ".json")
		if validName.MatchString(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Remove deletes the secret name.
func (s Store) Remove(name string) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("secret %s: %w", name, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	return nil
}

// Resolve is the secret's value: the stored one, or what its command
// prints (run by sh on the host, with the user's environment, within 30
// seconds; one trailing newline dropped).
func (sec Secret) Resolve(ctx context.Context) (string, error) {
	if sec.FromCommand == "" {
		return sec.Value, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out strings.Builder
	err := proc.Run(ctx, proc.Cmd{Argv: []string{"sh", "-c", sec.FromCommand}, Env: os.Environ(), Stdout: &out})
	if err != nil {
		return "", fmt.Errorf("secret %s: its command failed: %w", sec.Name, err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(out.String(), "\n"), "\r")
	if err := Valid(v); err != nil {
		return "", fmt.Errorf("secret %s: what its command printed: %w", sec.Name, err)
	}
	return v, nil
}

// MaxValue is the longest secret ralph takes.
const MaxValue = 64 << 10

// Valid checks a value can go into an HTTP header: one line, no control
// characters, not empty, at most MaxValue bytes.
func Valid(v string) error {
	switch {
	case v == "":
		return errors.New("secret: the value is empty")
	case len(v) > MaxValue:
		return fmt.Errorf("secret: the value is longer than %d bytes", MaxValue)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }):
		return errors.New("secret: the value holds a line break or a control character")
	}
	return nil
}
