package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/ralphloop/ralph/internal/sandbox"
)

// Under gVisor, --pids-limit caps the host threads of the sandbox's
// kernel (the Sentry), not the tasks inside it: guest threads are
// goroutines, so an agent can start far more than the limit, and whether
// the Sentry itself runs out of threads first depends on the machine.
// gVisor's own cgroupfs has a pids controller that does refuse fork and
// clone, but runsc leaves it at "max". ralph writes the limit there as
// root (no capabilities needed: the file is root's, mode 0644) each time
// the sandbox starts, since a restart resets it, and reads it back. The
// agent's uid cannot write it.

// guestPidsFiles are the pids.max files of gVisor's cgroupfs, v1 layout
// first (what runsc mounts today), then v2.
var guestPidsFiles = []string{"/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"}

// SetGuestPids writes n into the sandbox's own pids.max and checks that
// it took. It runs inside the sandbox, as root (sandbox-helper pids-max).
func SetGuestPids(n int) error {
	want := strconv.Itoa(n)
	for _, f := range guestPidsFiles {
		if _, err := os.Stat(f); err != nil {
			continue
		}
		if err := os.WriteFile(f, []byte(want), 0); err != nil {
			return err
		}
		got, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(got)) != want {
			return fmt.Errorf("%s reads %q after writing %s", f, strings.TrimSpace(string(got)), want)
		}
		return nil
	}
	return errors.New("no pids controller in /sys/fs/cgroup")
}

// guestPidsArgv is the engine command line that applies the pids limit
// inside a gVisor sandbox: ralph's helper when the gate mount is there
// (no shell needed in the image), else the image's sh.
func (e *Engine) guestPidsArgv(name string, n int, gated bool) []string {
	argv := []string{"exec", "--user", "0", name}
	if gated {
		return append(argv, sandbox.GateMount+"/ralph", "sandbox-helper", "pids-max", strconv.Itoa(n))
	}
	script := `for f in ` + strings.Join(guestPidsFiles, " ") + `; do [ -e "$f" ] || continue; ` +
		`echo "$1" > "$f" && [ "$(cat "$f")" = "$1" ]; exit; done; echo "no pids controller in /sys/fs/cgroup" >&2; exit 1`
	return append(argv, "sh", "-c", script, "ralph-pids", strconv.Itoa(n))
}

// limitGuest applies the pids limit inside a gVisor sandbox that has just
// started. When it cannot, the sandbox is stopped: its declared limit
// would not hold.
func (e *Engine) limitGuest(ctx context.Context, spec sandbox.Spec) error {
	if e.runtime == "" {
		return nil
	}
	e.mu.Lock()
	delete(e.limited, spec.Name)
	e.mu.Unlock()
	n := orInt(spec.Pids, sandbox.DefaultPids)
	if _, err := e.run(ctx, e.guestPidsArgv(spec.Name, n, spec.GateDir != "")...); err != nil {
		e.run(context.WithoutCancel(ctx), "stop", "--time", "1", spec.Name)
		return fmt.Errorf("%w: %s: could not set the pids limit (%d) inside the gVisor sandbox %s, so it was stopped: %v",
			sandbox.ErrUnavailable, e.name, n, spec.Name, err)
	}
	e.mu.Lock()
	e.limited[spec.Name] = true
	e.mu.Unlock()
	return nil
}

// guestLimited reports whether this process has set the guest limit of
// name since it last started (always true off gVisor).
func (e *Engine) guestLimited(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runtime == "" || e.limited[name]
}
