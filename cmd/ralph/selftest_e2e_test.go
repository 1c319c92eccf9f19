//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox/bwrap"
	"github.com/ralphloop/ralph/internal/sandbox/container"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
	"github.com/ralphloop/ralph/internal/selftest"
)

func runSelftest(t *testing.T, ralph string, args ...string) ([]selftest.Report, int, string) {
	t.Helper()
	return runSelftestEnv(t, ralph, nil, args...)
}

// runSelftestEnv is runSelftest with variables added to ralph's.
func runSelftestEnv(t *testing.T, ralph string, env []string, args ...string) ([]selftest.Report, int, string) {
	t.Helper()
	cmd := exec.Command(ralph, append([]string{"selftest", "--json"}, args...)...)
	// Without the fake sbx that testscript puts on this process's PATH:
	// --sandbox all would take it for a real one.
	var path []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "sbx")); err != nil {
			path = append(path, d)
		}
	}
	cmd.Env = append(os.Environ(), "PATH="+strings.Join(path, string(os.PathListSeparator)), "XDG_STATE_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Run()
	var reps []selftest.Report
	if err := json.Unmarshal(out.Bytes(), &reps); err != nil {
		t.Fatalf("selftest %v: %v\nstdout %s\nstderr %s", args, err, out.String(), errb.String())
	}
	return reps, cmd.ProcessState.ExitCode(), errb.String()
}

// TestSelftestHolds runs the attack battery in every real backend: every
// property must hold.
func TestSelftestHolds(t *testing.T) {
	sandboxtest.SkipShort(t)
	ralph, _ := build(t)
	for _, b := range []string{"microvm", "docker", "gvisor", "podman", "bwrap"} {
		if err := map[string]func() error{
			"microvm": func() error { return microVMEngine(t, ralph).b.Available(t.Context()) },
			"docker":  func() error { return container.Docker().Available(t.Context()) },
			"gvisor":  func() error { return container.GVisor("").Available(t.Context()) },
			"podman":  func() error { return container.Podman().Available(t.Context()) },
			"bwrap":   func() error { return bwrap.New("", t.TempDir(), nil).Available(t.Context()) },
		}[b](); err != nil {
			sandboxtest.Require(t, b, err)
		}
	}
	reps, code, stderr := runSelftest(t, ralph, "--sandbox", "all")
	if code != 0 || len(reps) != 5 {
		t.Errorf("exit %d, %d reports:\n%s", code, len(reps), stderr)
	}
	for _, rep := range reps {
		if len(rep.Results) != len(selftest.Properties) {
			t.Errorf("%s: %d rows, want %d", rep.Backend, len(rep.Results), len(selftest.Properties))
		}
		for _, r := range rep.Results {
			if r.Status != selftest.Held {
				t.Errorf("%s: %d %s: %s: %s", rep.Backend, r.ID, r.Property, r.Status, r.Detail)
			}
		}
	}
}

// TestSelftestHoldsRelayed runs the battery in docker and podman with
// the gate reached through the relay of macOS and Windows (decision 014),
// forced on Linux: every property must hold there too.
func TestSelftestHoldsRelayed(t *testing.T) {
	sandboxtest.SkipShort(t)
	ralph, _ := build(t)
	for _, b := range []string{"docker", "podman"} {
		t.Run(b, func(t *testing.T) {
			if err := map[string]func() error{
				"docker": func() error { return container.Docker().Available(t.Context()) },
				"podman": func() error { return container.Podman().Available(t.Context()) },
			}[b](); err != nil {
				sandboxtest.Require(t, b, err)
			}
			reps, code, stderr := runSelftestEnv(t, ralph, []string{container.WiringEnv + "=relay"}, "--sandbox", b)
			if code != 0 || len(reps) != 1 {
				t.Fatalf("exit %d, %d reports:\n%s", code, len(reps), stderr)
			}
			for _, r := range reps[0].Results {
				if r.Status != selftest.Held {
					t.Errorf("%d %s: %s: %s", r.ID, r.Property, r.Status, r.Detail)
				}
			}
		})
	}
}

// TestSelftestCanFail runs the same battery on the host, unsandboxed:
// every attack the host allows must be reported, so no probe is one that
// cannot fail.
func TestSelftestCanFail(t *testing.T) {
	sandboxtest.SkipShort(t)
	if os.Getuid() != 0 {
		t.Skip("the host battery's expectations are written for root (CI runs as root)")
	}
	ralph, _ := build(t)
	reps, code, stderr := runSelftest(t, ralph, "--sandbox", "host", "--dangerously-run-on-host")
	if code != 1 || len(reps) != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, stderr)
	}
	for _, r := range reps[0].Results {
		// Row 15 is ralph's own reading of the workspace: it holds on the
		// host too (TestWorkspaceRowCanFail shows it failing for a naive
		// reader).
		if want := selftest.Failed; r.ID != 15 && r.Status != want {
			t.Errorf("on the host, %d %s %s: the probe did not detect the breach (%s)", r.ID, r.Property, r.Status, r.Tried)
		}
		if r.ID == 15 && r.Status != selftest.Held {
			t.Errorf("on the host, row 15: %s: %s", r.Status, r.Detail)
		}
	}
	if len(reps[0].Results) != len(selftest.Properties) {
		t.Errorf("%d rows, want %d", len(reps[0].Results), len(selftest.Properties))
	}
	// Each of these attempts, not only its row, must see the breach the
	// host allows.
	for id, want := range map[int][]string{
		2:  {"writable: /"},
		10: {"raw ICMP watch on its loopback saw", "UDP listener saw"},
		11: {"neighbour sandbox saw", "abstract socket", "socket file", "loopback listener"},
		13: {"into /tmp: all written", "fork 1024 processes: all started"},
		14: {"create a user namespace: created", "create a user and network namespace: created"},
		16: {"found in /proc/", "no ralph gate adds the key"},
	} {
		for _, r := range reps[0].Results {
			for _, w := range want {
				if r.ID == id && !strings.Contains(r.Detail, w) {
					t.Errorf("row %d on the host: %q not among the breaches found: %s", id, w, r.Detail)
				}
			}
		}
	}
}

// TestSelftestOnSBX drives a fake sbx (which runs commands on the host,
// as no microVM can run here): the probe goes into the workspace and runs
// through sbx exec; the rows sbx keeps to itself (its network policy, its
// limits) say not applicable and why, without their attacks being run;
// the others run, and on this fake (the host) they fail.
func TestSelftestOnSBX(t *testing.T) {
	sandboxtest.SkipShort(t)
	ralph, _ := build(t)
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin+"/sbx", "../../internal/sandbox/sbx/fakesbx").CombinedOutput(); err != nil {
		t.Fatalf("build the fake sbx: %v\n%s", err, out)
	}
	log := t.TempDir() + "/argv.log"
	cmd := exec.Command(ralph, "selftest", "--json", "--sandbox", "sbx", "--memory", "256m", "--tmp-size", "16m", "--pids-limit", "64")
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_SBX_STATE="+t.TempDir()+"/state.json", "FAKE_SBX_LOG="+log,
		"XDG_STATE_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Run()
	var reps []selftest.Report
	if err := json.Unmarshal(out.Bytes(), &reps); err != nil || len(reps) != 1 {
		t.Fatalf("selftest on sbx: %v\nstdout %s\nstderr %s", err, out.String(), errb.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d, want 1 (the fake sbx is the host)", code)
	}
	rows := reps[0].Results
	if len(rows) != len(selftest.Properties) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(selftest.Properties), rows)
	}
	for _, r := range rows {
		na := (r.ID >= 6 && r.ID <= 11) || r.ID == 13
		switch {
		case na && (r.Status != selftest.NA || !strings.Contains(r.Detail, "sbx") || r.Tried != ""):
			t.Errorf("row %d: %s %q, tried %q; want not applicable, sbx's own, nothing tried", r.ID, r.Status, r.Detail, r.Tried)
		case r.ID == 15 && r.Status != selftest.Held:
			t.Errorf("row 15 (ralph's own reading of the workspace) on the fake sbx: %s %q", r.Status, r.Detail)
		case !na && r.ID != 15 && r.Status != selftest.Failed:
			t.Errorf("row %d on the fake sbx (the host): %s, want FAILED", r.ID, r.Status)
		}
	}
	argv, _ := os.ReadFile(log)
	for _, want := range []string{"\ncreate --name ralph-selftest-project-", " --memory 256m --cpus 2 shell /", "/project/.ralph-selftest-probe sandbox-helper probe ", "\nrm --force ralph-selftest-project-"} {
		if !strings.Contains("\n"+string(argv), want) {
			t.Errorf("sbx was not called with %q:\n%s", want, argv)
		}
	}
}
