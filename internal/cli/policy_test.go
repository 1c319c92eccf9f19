package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe to read while a command writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ralph policy log -f waits for a log that is not there yet, follows it
// as it grows, escapes what the sandbox sent, and leaves a half-written
// decision for later.
func TestPolicyLogFollows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- printLog(ctx, &out, path, true, false) }()
	time.Sleep(300 * time.Millisecond)
	line := `{"time":"2026-12-02T07:00:00Z","sandbox":"s","method":"CONNECT","host":"evil\u001b]0;t\u0007","port":443,"decision":"deny","rule":"r"}`
	if err := os.WriteFile(path, []byte(line+"\n"+line[:20]), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "deny") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, `deny   CONNECT evil\x1b]0;t\x07:443`) || strings.Contains(got, "\x1b") {
		t.Errorf("printed %q; want the decision, escaped", got)
	}
	if strings.Count(got, "\n") != 1 {
		t.Errorf("printed %q; want one line (the half-written one waits)", got)
	}
}

// TestPolicyLogNamesTheSecret: a request the gate added a secret to says
// which one, escaped like every word of the log.
func TestPolicyLogNamesTheSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	os.WriteFile(path, []byte(`{"method":"POST","host":"api.anthropic.com","port":443,"decision":"allow","rule":"allow api.anthropic.com (agent claude)","secret":"anthropic"}`+"\n"+
		`{"method":"POST","host":"x.test","port":80,"decision":"allow","rule":"r","secret":"a\u001b[2Jb"}`+"\n"), 0o600)
	var out bytes.Buffer
	if err := printLog(context.Background(), &out, path, false, false); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, "(agent claude) · secret anthropic added") || strings.Contains(got, "\x1b") {
		t.Errorf("log:\n%q", got)
	}
}
