package selftest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Row 16: a stored secret (ralph secret) never enters the sandbox and
// reaches only its API. The host makes a random key and gives the probe
// only its SHA-256 (KeyHash): the probe hashes every token it can find in
// every process's environment and command line and in HOME, /tmp and the
// workspace; one that matches is the key, in the sandbox. Then it asks the
// gate's route for the key (KeyRoute, with the placeholder it holds), and
// sends its key variable's value to another allowed host (the upstream,
// /elsewhere). The host's upstream decides those two: the route's request
// must arrive with the key (the positive control), /elsewhere never.
// Without a gate (the host backend), ralph passes the key in, as a run
// does: the row fails there.

// keyVar is the sandbox's variable for the selftest's key.
const keyVar = "RALPH_SELFTEST_KEY"

// hashKey is the hex SHA-256 the probe looks for.
func hashKey(k string) string {
	s := sha256.Sum256([]byte(k))
	return hex.EncodeToString(s[:])
}

func storedSecret(cfg ProbeConfig) Result {
	var f finding
	if cfg.KeyHash != "" {
		where := findHashed(cfg.KeyHash, cfg.Workspace)
		f.try("look for the key in every process's environment and command line, and in HOME, /tmp and the workspace", where != "", "found in "+where)
	}
	c := &http.Client{Timeout: 3 * time.Second} // the upstream never answers: what it received is what counts
	send := func(u string) {
		req, err := http.NewRequest(http.MethodPost, u, strings.NewReader("{}"))
		if err != nil {
			return
		}
		req.Header.Set("X-Api-Key", os.Getenv(keyVar))
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	if cfg.KeyRoute != "" {
		send(cfg.KeyRoute)
		f.try("ask the gate's route for the API (the host checks the key arrived)", false, "")
	}
	if cfg.Upstream != "" {
		send("http://" + cfg.Upstream + "/elsewhere")
		f.try("send the key variable's value to another allowed host (the host checks what arrived)", false, "")
	}
	return f.result(16)
}

// findHashed names the first place holding a token whose SHA-256 is
// hash: /proc/*/environ and cmdline, and the files of HOME, /tmp and the
// workspace (a bounded walk).
func findHashed(hash, workspace string) string {
	match := func(b []byte) bool {
		for _, tok := range strings.FieldsFunc(string(b), func(r rune) bool {
			return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) {
			if len(tok) >= 16 && hashKey(tok) == hash {
				return true
			}
		}
		return false
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		for _, f := range []string{"environ", "cmdline"} {
			if b, err := os.ReadFile(filepath.Join(p, f)); err == nil && match(b) {
				return filepath.Join(p, f)
			}
		}
	}
	files := 0
	for _, dir := range []string{os.Getenv("HOME"), "/tmp", workspace} {
		if dir == "" {
			continue
		}
		found := ""
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			switch {
			case found != "" || files > 5000:
				return fs.SkipAll
			case err != nil:
				return nil // unreadable: skipped (a folder's error comes first, for the folder)
			}
			if !d.Type().IsRegular() {
				return nil
			}
			files++
			if info, err := d.Info(); err == nil && info.Size() < 1<<20 {
				if b, err := os.ReadFile(p); err == nil && match(b) {
					found = p
				}
			}
			return nil
		})
		if found != "" {
			return found
		}
	}
	return ""
}

// keyVerdict is what the host's upstream received: the route's request
// with the key (else the gate added nothing, and the row's other checks
// prove little), and never the key on /elsewhere.
func keyVerdict(rs []Result, received, key string, gated bool) {
	if !has(rs, 16) {
		return
	}
	// The key may arrive once, on the route's request; any other copy
	// (on /elsewhere, or anywhere) left the sandbox for another host.
	route := false
	for _, req := range strings.Split(received, "POST ")[1:] {
		head, _, _ := strings.Cut(req, "\r\n\r\n")
		if strings.HasPrefix(head, "/secret-route ") && strings.Contains(head+"\r\n", "\r\nX-Api-Key: "+key+"\r\n") {
			route = true
		}
	}
	want := 0
	if route {
		want = 1
	}
	if strings.Count(received, key) > want {
		fail(rs, 16, "another allowed host received the key from the sandbox")
	}
	if !gated {
		fail(rs, 16, "no ralph gate adds the key on this backend: ralph passes it into the sandbox")
	} else if !route {
		fail(rs, 16, fmt.Sprintf("the API's request through the gate's route did not arrive with the key (the positive control; it saw %d bytes)", len(received)))
	}
}
