//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/bwrap"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// gitEnv is a HOME whose git config gives an identity and lets root use
// the uid-1000 repositories of these tests (safe.directory).
func gitEnv(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[user]\n\tname = User\n\temail = user@example.test\n[safe]\n\tdirectory = *\n[init]\n\tdefaultBranch = main\n"), 0o644)
	return []string{"HOME=" + home, "GIT_CONFIG_NOSYSTEM=1"}
}

func gitIn(t *testing.T, env []string, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// cloneRun runs ralph --workspace clone in proj (a repository of uid
// 1000) to a COMPLETE and returns the loop's clone.
func cloneRun(t *testing.T, ralph, proj string, env []string, args ...string) string {
	t.Helper()
	r := start(t, ralph, proj, env, append([]string{"--workspace", "clone", "-n", "4", "--env", "FAKE_PLAN"}, args...)...)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.stderr)
	}
	clones, _ := filepath.Glob(filepath.Join(stateOf(env), "ralph", "workspaces", "*-default-*[0-9a-f]"))
	if len(clones) != 1 || !strings.Contains(r.stderr.String(), "works on a new clone, branch ralph/default") {
		t.Fatalf("clones %v; ralph said:\n%s", clones, r.stderr)
	}
	return clones[0]
}

func stateOf(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "XDG_STATE_HOME="); ok {
			return v
		}
	}
	return ""
}

// reviewAndMerge checks the agent's file is in the clone as uid 1000 and
// not in the user's tree, then merges the loop's commit and finds it in
// the tree.
func reviewAndMerge(t *testing.T, ralph, proj, clone string, env []string, file string) {
	t.Helper()
	st, err := os.Stat(filepath.Join(clone, file))
	if err != nil {
		t.Fatalf("the agent's file is not in its clone: %v", err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 1000 {
		t.Errorf("the agent's file belongs to %d, want 1000 (the project's owner)", uid)
	}
	if _, err := os.Stat(filepath.Join(proj, file)); err == nil {
		t.Fatal("the agent's file reached the user's tree before a merge: the sandbox had the project mounted")
	}
	diff := exec.Command(ralph, "diff", "--stat")
	diff.Dir, diff.Env = proj, append(os.Environ(), env...)
	if out, err := diff.CombinedOutput(); err != nil || !strings.Contains(string(out), file) {
		t.Errorf("ralph diff --stat: %v\n%s", err, out)
	}
	merge := exec.Command(ralph, "merge", "--ff")
	merge.Dir, merge.Env = proj, append(os.Environ(), env...)
	if out, err := merge.CombinedOutput(); err != nil {
		t.Fatalf("ralph merge --ff: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(proj, file)); err != nil {
		t.Errorf("after the merge the file is not in the user's tree: %v", err)
	}
}

// TestWorkspaceCloneInContainers: on docker, gVisor, podman and the
// microVM the sandbox gets the loop's clone and nothing of the user's
// folder; the work comes back only through ralph merge. (The image has no
// git: the test commits in the clone as the agent would.)
func TestWorkspaceCloneInContainers(t *testing.T) {
	ralph, fake := build(t)
	for _, tc := range append(engines(), microVMEngine(t, ralph)) {
		t.Run(tc.backend, func(t *testing.T) {
			image, proj, _ := tc.prepare(t, fake)
			genv := gitEnv(t)
			gitIn(t, genv, proj, "init", "--quiet")
			gitIn(t, genv, proj, "add", "-A")
			gitIn(t, genv, proj, "commit", "--quiet", "-m", "first")
			env := append(genv, "XDG_STATE_HOME="+t.TempDir(), "FAKE_PLAN=write:made-inside.txt,complete", "ANTHROPIC_API_KEY=sk-e2e")
			name := sandbox.LoopName("claude", proj, "default", true)
			if tc.backend == "microvm" {
				t.Cleanup(func() {
					rm := exec.Command(ralph, "rm", "-f", name)
					rm.Env = append(os.Environ(), env...)
					rm.Run()
				})
			} else {
				sandboxtest.Cleanup(t, tc.bin, name)
			}
			clone := cloneRun(t, ralph, proj, env, "--sandbox", tc.backend, "--image", image, "--memory", "512m")
			gitIn(t, genv, clone, "add", "made-inside.txt")
			gitIn(t, genv, clone, "commit", "--quiet", "-m", "the agent's work")
			reviewAndMerge(t, ralph, proj, clone, env, "made-inside.txt")
		})
	}
}

// TestWorkspaceCloneInBwrap: the agent commits inside bubblewrap with the
// host's git, and plants a hook and core.fsmonitor in its clone that
// would touch a canary on the host; ralph's diff and merge fire neither.
func TestWorkspaceCloneInBwrap(t *testing.T) {
	if err := bwrap.New("", t.TempDir(), nil).Available(t.Context()); err != nil {
		sandboxtest.Require(t, "bwrap", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("as root only: the project is made for uid 1000")
	}
	ralph, fake := build(t)
	proj := project(t, 1000)
	fakeInProject(t, proj, fake)
	genv := gitEnv(t)
	gitIn(t, genv, proj, "init", "--quiet")
	gitIn(t, genv, proj, "add", "-A")
	gitIn(t, genv, proj, "commit", "--quiet", "-m", "first")
	canary := filepath.Join(t.TempDir(), "canary") // not in the sandbox: only the host can make it
	plant := "sh:echo work >made-in-bwrap.txt && git add made-in-bwrap.txt && git -c user.name=A -c user.email=a@example.test commit -qm work" +
		" && printf '#!/bin/sh\\ntouch " + canary + "\\n' >.git/hooks/post-merge && chmod +x .git/hooks/post-merge" +
		" && git config core.fsmonitor 'touch " + canary + "' && git config core.pager 'touch " + canary + "'"
	// A state folder uid 1000 may pass through, as a home folder's is to
	// its owner (bwrap mounts the clone as that uid; ralph opens its own
	// folders beneath to it).
	state := filepath.Join(sandboxtest.Project(t, 0, 0), "state")
	os.Mkdir(state, 0o711)
	env := append(genv, "XDG_STATE_HOME="+state, "XDG_CONFIG_HOME="+t.TempDir(), "FAKE_PLAN="+plant+",complete")
	clone := cloneRun(t, ralph, proj, env, "--sandbox", "bwrap", "--agent", "claude", "--agent-cmd", "/work/.bin/claude", "--memory", "1g")
	if got := gitIn(t, genv, clone, "-c", "core.fsmonitor=", "log", "-1", "--format=%an %s"); got != "A work" {
		t.Fatalf("the agent's commit in its clone: %q", got)
	}
	reviewAndMerge(t, ralph, proj, clone, env, "made-in-bwrap.txt")
	if _, err := os.Stat(canary); err == nil {
		t.Error("the agent's hook or config ran on the host")
	}
	// Positive control: git run in the clone itself runs them.
	ctl := exec.Command("git", "-C", clone, "status")
	ctl.Env = append(os.Environ(), genv...)
	ctl.Run()
	if _, err := os.Stat(canary); err != nil {
		t.Errorf("control: git in the clone did not fire the agent's fsmonitor, so the check above could not see it: %v", err)
	}
}
