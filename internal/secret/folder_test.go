package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFolderCredentials(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "anthropic"), []byte("sk-ant-1\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "anthropic.url"), []byte("http://10.0.0.5:8080\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "github"), []byte("ghp_x"), 0o600)
	os.WriteFile(filepath.Join(dir, "unknown"), []byte("v"), 0o600)
	var said []string
	r := &Reloader{Folder: Folder{Dir: dir}, Every: time.Hour, Changed: func(names []string, err error) {
		said = append(said, strings.Join(names, ",")+" "+errString(err))
	}}
	creds := r.Credentials()
	if len(creds) != 2 || creds[0].Name != "anthropic" || creds[0].Upstream.String() != "http://10.0.0.5:8080" || creds[0].Value != "sk-ant-1" ||
		creds[1].Name != "github" || creds[1].Paths == nil || !strings.HasPrefix(creds[1].Value, "Basic ") || creds[1].Upstream.Host != "github.com" {
		t.Fatalf("credentials %+v", creds)
	}
	// A value that cannot go into a header: the last good ones stay,
	// and the change is said once, without the value.
	os.WriteFile(filepath.Join(dir, "anthropic"), []byte("sk-new\r\nX-Evil: 1"), 0o600)
	r.Every = 0
	if creds := r.Credentials(); len(creds) != 2 || creds[0].Value != "sk-ant-1" {
		t.Errorf("after a bad value: %+v", creds)
	}
	r.Credentials()
	os.Remove(filepath.Join(dir, "github"))
	os.WriteFile(filepath.Join(dir, "anthropic"), []byte("sk-ant-2"), 0o600)
	if creds := r.Credentials(); len(creds) != 1 || creds[0].Value != "sk-ant-2" {
		t.Errorf("after a change: %+v", creds)
	}
	if len(said) != 3 || strings.Contains(strings.Join(said, "|"), "sk-") {
		t.Errorf("said %q", said)
	}
	os.WriteFile(filepath.Join(dir, "anthropic.url"), []byte("https://user:pw@example.test"), 0o600)
	if _, _, err := (Folder{Dir: dir}).Credentials(); err == nil {
		t.Error("a URL with credentials accepted")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
