package container

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// The relay (decision 014). On macOS and Windows the engine runs in a VM
// (Docker Desktop, podman machine) that a Unix socket of the host does
// not cross. The sandbox keeps --network none and finds the gate's socket
// in a volume of the engine's (RelayMount, read-only); a second, small
// container of ralph's, the relay, listens on that socket and carries
// each connection over TCP to the gate on the host, greeting it with the
// run's token (netgate.TokenListener). The relay is ralph's helper alone,
// hardened like the sandbox, up for the length of a run.

// LabelRelay marks a relay container with the sandbox it serves.
const LabelRelay = "ralph.relay-for"

// WiringEnv set to "relay" makes docker and podman on Linux use the
// relay too (an engine in a VM there, or to try the macOS wiring).
const WiringEnv = "RALPH_GATE_WIRING"

// ListenEnv names the host address the gate listens on for relays.
const ListenEnv = "RALPH_GATE_LISTEN"

// relayName is the relay container's and its volume's name.
func relayName(sandboxName string) string { return sandboxName + "-gate" }

// Relays reports whether this engine's sandboxes reach the gate through
// a relay: docker and podman on macOS and Windows, or on Linux with
// RALPH_GATE_WIRING=relay; never gVisor (Linux only, and its Unix socket
// works).
func (e *Engine) Relays() bool { return e.relay }

func relayWanted(goos, runtimeName string) bool {
	if runtimeName != "" {
		return false
	}
	return goos != "linux" || os.Getenv(WiringEnv) == "relay"
}

// hostAlias is the name the relay dials for the host: the engines' own
// (in Docker Desktop's and podman machine's VM it reaches the host's
// loopback); on Linux ralph maps it to the bridge's gateway itself.
func (e *Engine) hostAlias() string {
	if e.bin == "podman" {
		return "host.containers.internal"
	}
	return "host.docker.internal"
}

// RelayAddrs: in a VM (not Linux) the gate listens on the host's
// loopback, which the engine's host alias reaches; on Linux, on the
// gateway of the engine's default bridge, which the relay is on.
// RALPH_GATE_LISTEN (an address of this host the VM reaches) takes the
// place of either, for a VM whose alias does not reach the host's
// loopback (some podman machine versions).
func (e *Engine) RelayAddrs(ctx context.Context) (listen, dial string, err error) {
	ip, err := e.hostIP(ctx)
	if err != nil {
		return "", "", err
	}
	if ip == "" {
		ip = "127.0.0.1"
	}
	return net.JoinHostPort(ip, "0"), e.hostAlias(), nil
}

// hostIP is the address of this host the gate listens on for a relay
// and, on Linux, what ralph maps the relay's host alias to: "" in a VM
// (macOS, Windows), where the engine maps the alias to the host itself.
func (e *Engine) hostIP(ctx context.Context) (string, error) {
	if ip := os.Getenv(ListenEnv); ip != "" {
		if net.ParseIP(ip) == nil {
			return "", fmt.Errorf("%s=%q is not an IP address of this host", ListenEnv, ip)
		}
		return ip, nil
	}
	if runtime.GOOS != "linux" {
		return "", nil
	}
	return e.bridgeGateway(ctx)
}

// bridgeGateway is the host's address on the engine's default network,
// asked of the engine once per process.
func (e *Engine) bridgeGateway(ctx context.Context) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gateway != "" {
		return e.gateway, nil
	}
	gw, err := e.askGateway(ctx)
	e.gateway = gw
	return gw, err
}

func (e *Engine) askGateway(ctx context.Context) (string, error) {
	args := []string{"network", "inspect", "bridge", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}"}
	if e.bin == "podman" {
		args = []string{"network", "inspect", "podman", "--format", "{{range .Subnets}}{{.Gateway}} {{end}}"}
	}
	out, err := e.run(ctx, args...)
	if err != nil {
		return "", fmt.Errorf("%s: the relay's network: %w", e.name, err)
	}
	for _, f := range strings.Fields(string(out)) {
		if ip := net.ParseIP(f); ip != nil && ip.To4() != nil {
			return ip.String(), nil
		}
	}
	return "", fmt.Errorf("%s: the default network has no IPv4 gateway (%q): the relay cannot reach the gate", e.name, strings.TrimSpace(string(out)))
}

// relayArgs is the relay container's `run`: ralph's helper as root
// without a capability (it must create the socket in the engine's
// root-owned volume), read-only, small caps, on the default network (the
// one way to the host), the token by name only (never on a command line).
func (e *Engine) relayArgs(spec sandbox.Spec, addr string, gw string) []string {
	name := relayName(spec.Name)
	args := []string{"run", "--detach", "--rm", "--pull", "never",
		"--name", name,
		"--label", LabelRelay + "=" + spec.Name,
		"--label", LabelBackend + "=" + e.name,
		"--user", "0:0",
		"--cap-drop=ALL",
		"--security-opt=no-new-privileges",
		"--read-only",
		"--memory", "64m", "--memory-swap", "64m",
		"--pids-limit", "64",
		"--volume", spec.GateDir + ":" + sandbox.GateMount + ":ro",
		"--volume", name + ":" + sandbox.RelayMount,
		"--env", netgate.TokenEnv,
	}
	if gw != "" {
		args = append(args, "--add-host", e.hostAlias()+":"+gw)
	}
	return append(args, spec.Image, sandbox.GateMount+"/ralph", "sandbox-helper", "relay",
		"--socket", sandbox.RelayMount+"/gate.sock", "--to", addr)
}

// StartRelay starts spec's relay, dialing addr with token, after
// removing one a crashed run left. stop removes it (its volume stays:
// the sandbox mounts it).
func (e *Engine) StartRelay(ctx context.Context, spec sandbox.Spec, addr, token string) (func(context.Context) error, error) {
	name := relayName(spec.Name)
	if err := e.removeRelay(ctx, spec.Name); err != nil {
		return nil, err
	}
	gw, err := e.hostIP(ctx)
	if err != nil {
		return nil, err
	}
	env := append(proc.MinimalEnv(), netgate.TokenEnv+"="+token)
	out, err := proc.Output(ctx, proc.Cmd{Argv: append([]string{e.bin}, e.relayArgs(spec, addr, gw)...), Env: env, Dir: e.cwd()})
	if err != nil {
		if isNoImage(err) {
			return nil, fmt.Errorf("%w: image %s is not present in %s (the relay runs in the sandbox's image; ralph never pulls)", sandbox.ErrUnavailable, spec.Image, e.bin)
		}
		return nil, fmt.Errorf("%s: start the gate's relay %s: %w%s", e.name, name, err, quirkHint(err))
	}
	// Removed by the ID it was made with: no other container carries it.
	id := lastLine(out)
	return func(ctx context.Context) error {
		if _, err := e.run(ctx, "rm", "--force", id); err != nil && !isNoSuch(err) {
			return fmt.Errorf("%s: remove the gate's relay %s: %w", e.name, name, err)
		}
		return nil
	}, nil
}

// removeRelay removes sandboxName's relay container if ralph made it.
func (e *Engine) removeRelay(ctx context.Context, sandboxName string) error {
	name := relayName(sandboxName)
	out, err := e.run(ctx, "container", "inspect", "--format", `{{index .Config.Labels "`+LabelRelay+`"}}`, name)
	if err != nil {
		if isNoSuch(err) {
			return nil
		}
		return fmt.Errorf("%s: the gate's relay %s: %w", e.name, name, err)
	}
	if strings.TrimSpace(string(out)) != sandboxName {
		return sandbox.Refused("a container named %s exists and is not ralph's relay for %s; remove it", name, sandboxName)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if _, err := e.run(rctx, "rm", "--force", name); err != nil && !isNoSuch(err) {
		return fmt.Errorf("%s: remove the gate's relay %s: %w", e.name, name, err)
	}
	return nil
}

// removeRelayVolume removes the volume the relay shares with the
// sandbox, once the sandbox is gone.
func (e *Engine) removeRelayVolume(ctx context.Context, sandboxName string) {
	e.removeRelay(ctx, sandboxName)
	e.run(ctx, "volume", "rm", "--force", relayName(sandboxName))
}
