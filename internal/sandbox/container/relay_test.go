package container

import (
	"slices"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox"
)

// TestRelayArgs: the relay is hardened like a sandbox (no capability,
// read-only, small caps), mounts the gate folder read-only and the
// shared volume, and its token never appears on the command line; the
// host alias is mapped only when ralph knows the address (Linux, or
// RALPH_GATE_LISTEN).
func TestRelayArgs(t *testing.T) {
	spec := sandbox.Spec{Name: "ralph-claude-p-12345678", Image: "img", GateDir: "/state/gates/x/mnt"}
	for _, e := range []*Engine{Docker(), Podman()} {
		args := e.relayArgs(spec, e.hostAlias()+":4242", "")
		line := strings.Join(args, " ")
		for _, want := range []string{"--cap-drop=ALL", "--security-opt=no-new-privileges", "--read-only", "--memory 64m", "--pids-limit 64",
			"--volume /state/gates/x/mnt:/.ralph:ro", "--volume ralph-claude-p-12345678-gate:/.ralph-gate",
			"--env RALPH_GATE_TOKEN img /.ralph/ralph sandbox-helper relay --socket /.ralph-gate/gate.sock --to " + e.hostAlias() + ":4242"} {
			if !strings.Contains(line, want) {
				t.Errorf("%s: %q lacks %q", e.name, line, want)
			}
		}
		if slices.Contains(args, "--add-host") {
			t.Errorf("%s: the alias is mapped in a VM: %q", e.name, line)
		}
		if got := strings.Join(e.relayArgs(spec, "a:1", "172.17.0.1"), " "); !strings.Contains(got, "--add-host "+e.hostAlias()+":172.17.0.1") {
			t.Errorf("%s: no alias mapping: %q", e.name, got)
		}
	}
	// The sandbox: no network, the volume read-only, the forwarder on its socket.
	e := Docker()
	e.relay = true
	line := strings.Join(e.runArgs(spec, "1000:1000", "/p.json"), " ")
	for _, want := range []string{"--network none", "--volume ralph-claude-p-12345678-gate:/.ralph-gate:ro", "--label ralph.gate=relay",
		"forward --listen 127.0.0.1:3128 --socket /.ralph-gate/gate.sock --wait 15s"} {
		if !strings.Contains(line, want) {
			t.Errorf("the relayed sandbox %q lacks %q", line, want)
		}
	}
}

func TestHostIP(t *testing.T) {
	t.Setenv(ListenEnv, "not-an-ip")
	if _, err := Docker().hostIP(t.Context()); err == nil {
		t.Error("RALPH_GATE_LISTEN=not-an-ip taken")
	}
	t.Setenv(ListenEnv, "192.0.2.7")
	if ip, err := Docker().hostIP(t.Context()); ip != "192.0.2.7" || err != nil {
		t.Errorf("hostIP = %q, %v", ip, err)
	}
	if l, d, err := Podman().RelayAddrs(t.Context()); l != "192.0.2.7:0" || d != "host.containers.internal" || err != nil {
		t.Errorf("RelayAddrs = %q %q %v", l, d, err)
	}
}
