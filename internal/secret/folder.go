package secret

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ralphloop/ralph/internal/netgate"
)

// Folder is a folder of secrets as a Kubernetes Secret volume shows one:
// a file per secret named by its kind (anthropic, openai, github, …)
// holding the value, and optionally NAME.url holding the API's URL when
// it is not the vendor's own. A fleet's gate reads its credentials from
// one (decision 011); the loops' pods never mount it.
type Folder struct{ Dir string }

// Credentials are the gate's credentials for the secrets in the folder,
// with the names found; files ralph does not know are ignored.
func (f Folder) Credentials() ([]netgate.Credential, []string, error) {
	var creds []netgate.Credential
	var names []string
	for _, k := range Kinds() {
		v, err := readSmall(filepath.Join(f.Dir, k.Name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, nil, err
		}
		v = strings.TrimSuffix(strings.TrimSuffix(v, "\n"), "\r")
		if err := Valid(v); err != nil {
			return nil, nil, fmt.Errorf("secret %s in %s: %w", k.Name, f.Dir, err)
		}
		upstream := k.Upstream
		if u, err := readSmall(filepath.Join(f.Dir, k.Name+".url")); err == nil {
			upstream = strings.TrimSpace(u)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
		c, err := k.credential(upstream, v)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (%s.url in %s)", err, k.Name, f.Dir)
		}
		creds = append(creds, c)
		names = append(names, k.Name)
	}
	return creds, names, nil
}

// readSmall reads a file of at most MaxValue bytes (and a line end).
func readSmall(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxValue+3))
	if err != nil {
		return "", err
	}
	if len(b) > MaxValue+2 {
		return "", fmt.Errorf("%s: longer than %d bytes", p, MaxValue)
	}
	return string(b), nil
}

// Reloader serves a Folder's credentials to a gate, reading the folder
// again at most every Every (the kubelet swaps a Secret volume's files
// when the Secret changes). A folder that cannot be read keeps the last
// good credentials, and Changed hears of it.
type Reloader struct {
	Folder  Folder
	Every   time.Duration
	Changed func(names []string, err error) // each time what is served, or the error, changes

	mu       sync.Mutex
	read     time.Time
	creds    []netgate.Credential
	lastSaid string
}

// Credentials is the gate's CredentialsFrom.
func (r *Reloader) Credentials() []netgate.Credential {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.read.IsZero() && time.Since(r.read) < r.Every {
		return r.creds
	}
	r.read = time.Now()
	creds, names, err := r.Folder.Credentials()
	if err == nil {
		r.creds = creds
	}
	said := fmt.Sprint(names, err)
	if said != r.lastSaid && r.Changed != nil {
		r.Changed(names, err)
	}
	r.lastSaid = said
	return r.creds
}
