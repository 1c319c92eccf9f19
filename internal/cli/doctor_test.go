package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/doctor"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// described is a fake backend that says what it is.
type described struct {
	sandboxtest.Fake
	name   string
	down   error // Available
	skip   error // AutoSkip
	health sandbox.Health
	images *fakeImages
}

func (d *described) Name() string                        { return d.name }
func (d *described) Available(ctx context.Context) error { return d.down }
func (d *described) AutoSkip(ctx context.Context) error  { return d.skip }
func (d *described) Health(ctx context.Context, usable bool, image string) sandbox.Health {
	h := d.health
	if usable {
		h.Note = "looked at " + image
	}
	return h
}
func (d *described) Images(ctx context.Context) sandbox.ImageStore {
	if d.images == nil {
		return nil
	}
	return d.images
}

// fakeImages has the images named, each with the commands named.
type fakeImages map[string][]string

func (f *fakeImages) HasImage(ctx context.Context, image string) bool {
	_, ok := (*f)[image]
	return ok
}
func (f *fakeImages) Import(ctx context.Context, tag string, r io.Reader) error {
	return errors.New("not here")
}
func (f *fakeImages) Label(ctx context.Context, image, key string) string {
	if image == "ralph-claude:latest" && key == "ralph.agent-version" {
		return "2.1.332 (Claude Code)\x1b]0;x\x07"
	}
	return ""
}
func (f *fakeImages) Commands(ctx context.Context, image string, bins ...string) ([]string, error) {
	var out []string
	for _, b := range bins {
		for _, c := range (*f)[image] {
			if c == b {
				out = append(out, b)
			}
		}
	}
	return out, nil
}

func TestDoctorRun(t *testing.T) {
	images := &fakeImages{"ralph-claude:latest": {"claude"}, "ralph-codex:latest": {"sh"}}
	vm := &described{name: "vm", skip: errors.New("TCG only"), health: sandbox.Health{Found: true, Version: "qemu 9"}}
	dead := &described{name: "dead", down: sandbox.Unavailable("dockerd is not running: start it")}
	box := &described{name: "box", health: sandbox.Health{Found: true, Gate: "enforced", Limits: "cgroups", Disk: "capped"}, images: images}
	f, tio := testFactory(t, vm, dead, box)
	f.Getenv = func(k string) (string, bool) {
		if k == "ANTHROPIC_API_KEY" {
			return "sk-ant-secret", true
		}
		return "", false
	}
	f.OnPath = func(bin string) bool { return bin == "claude" }

	if err := doctorRun(context.Background(), &doctorOptions{f: f, agent: "claude"}); err != nil {
		t.Fatalf("a usable backend: %v", err)
	}
	out := tio.out.String()
	for _, want := range []string{
		"vm +yes +yes +fake +qemu 9 +looked at ralph-claude:latest", // usable, but auto passes it over
		"dead +no +no +fake +- +dockerd is not running: start it",   // the detail, not the sentinel's words
		"auto picks box. Network gate: enforced.",
		"host +yes +no +none: runs on the host .*no isolation: only with --dangerously-run-on-host",
		`claude +yes +ralph-claude:latest: yes \(2\.1\.332 \(Claude Code\)\\x1b\]0;x\\x07\) +- +ANTHROPIC_API_KEY`,
		"codex +no +ralph-codex:latest: no ",
		"gemini +no +ralph-gemini:latest: no image",
	} {
		if !matches(out, want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sk-ant-secret") || strings.Contains(out, "sandbox backend unavailable") || strings.ContainsRune(out, 0x1b) {
		t.Errorf("doctor printed a secret, a sentinel's words or a control character:\n%q", out)
	}

	tio.out.Reset()
	if err := doctorRun(context.Background(), &doctorOptions{f: f, agent: "codex", asJSON: true}); err != nil {
		t.Fatal(err)
	}
	var rep doctor.Report
	if err := json.Unmarshal(tio.out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Auto != "box" || len(rep.Backends) != 4 || rep.Backends[2].Image != "looked at ralph-codex:latest" {
		t.Errorf("--json: %+v", rep)
	}

	// Nothing usable: exit 69, and the host is never offered.
	f2, _ := testFactory(t, dead)
	if err := doctorRun(context.Background(), &doctorOptions{f: f2, agent: "claude"}); exitCode(err) != ExitUnavailable {
		t.Errorf("nothing usable: %v, exit %d; want 69", err, exitCode(err))
	}
}

// selftest refuses the host without consent and says when nothing is
// usable, before any attack runs.
func TestSelftestRefusals(t *testing.T) {
	dead := &described{name: "dead", down: sandbox.Unavailable("dockerd is not running")}
	f, _ := testFactory(t, dead)
	if err := selftestRun(context.Background(), &selftestOptions{f: f, which: "host"}); exitCode(err) != ExitUsage {
		t.Errorf("host without --dangerously-run-on-host: %v", err)
	}
	for _, which := range []string{"all", "auto", "dead"} {
		if err := selftestRun(context.Background(), &selftestOptions{f: f, which: which}); exitCode(err) != ExitUnavailable {
			t.Errorf("--sandbox %s with nothing usable: %v (exit %d), want 69", which, err, exitCode(err))
		}
	}
	if err := selftestRun(context.Background(), &selftestOptions{f: f, which: "nope"}); exitCode(err) != ExitUsage {
		t.Errorf("an unknown backend: %v", err)
	}
}
