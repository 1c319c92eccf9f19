package bwrap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox"
)

func TestFindCommand(t *testing.T) {
	if _, err := os.Stat("/usr/bin/sh"); err != nil {
		t.Skip("no /usr/bin/sh on this host")
	}
	proj := t.TempDir()
	home := t.TempDir() // like ~/.nvm: not shown by bwrap
	write := func(p, body string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(proj, "bin", "agent"), "#!/bin/sh\necho hi\n")
	write(filepath.Join(proj, "bin", "node-agent"), "#!/usr/bin/env ralph-no-such-node\n")
	write(filepath.Join(home, "claude"), "#!/bin/sh\n")
	os.Symlink(filepath.Join(home, "claude"), filepath.Join(proj, "bin", "linked"))
	spec := sandbox.Spec{Project: proj, Workdir: "/work"}
	for _, tc := range []struct {
		bin, found, err string
	}{
		{"sh", "/usr/bin/sh", ""},
		{"/bin/sh", "/bin/sh", ""},
		{"/work/bin/agent", "/work/bin/agent", ""},
		{"/work/bin/node-agent", "", "needs ralph-no-such-node"},
		{filepath.Join(home, "claude"), "", "outside what a bwrap sandbox shows"},
		{"/work/bin/linked", "", "is a link to"},
		{"ralph-no-such-cli", "", "not on the sandbox's PATH"},
		{"/work/bin/missing", "", "no such executable"},
	} {
		got, err := (&Bwrap{}).FindCommand(spec, tc.bin)
		if tc.bin == "/bin/sh" {
			// doctor asks without a project: the workdir then shows nothing,
			// and no path counts as the project's.
			if got, err := (&Bwrap{}).FindCommand(sandbox.Spec{}, "/work/bin/sh"); err == nil {
				t.Errorf("without a project, /work/bin/sh was found at %q", got)
			}
			if within("/root/.nvm/bin/claude", "") {
				t.Error("every path was within an empty project")
			}
		}
		if got != tc.found || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("FindCommand(%q) = %q, %v; want %q, %q", tc.bin, got, err, tc.found, tc.err)
		}
	}
}
