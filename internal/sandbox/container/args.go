package container

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/ralphloop/ralph/internal/sandbox"
)

const (
	// keepAlive is the command under the init when there is no gate: it
	// sleeps until stopped.
	keepAlive = "2147483647"
)

// runArgs returns the arguments of `run` that create the sandbox: the
// seed's hardened set, exactly, plus labels and a minimal init.
//
//	non-root --user, --cap-drop=ALL, no-new-privileges, --read-only root,
//	tmpfs /tmp and HOME, memory/cpu/pids caps (swap capped too), no network,
//	only the project directory mounted.
func (e *Engine) runArgs(spec sandbox.Spec, user, seccomp string) []string {
	workdir := spec.Workdir
	if workdir == "" {
		workdir = sandbox.DefaultWorkdir
	}
	mem := or(spec.Memory, sandbox.DefaultMemory)
	tmp, _ := spec.TmpBytes() // checked by Validate
	uid, gid := splitUser(user)
	args := []string{
		"run", "--detach", "--pull", "never",
		"--name", spec.Name,
		"--label", LabelManaged + "=true",
		"--label", LabelAgent + "=" + spec.Agent,
		"--label", LabelProject + "=" + spec.Project,
		"--label", LabelBackend + "=" + e.name,
		"--init",
		"--user", user,
		"--cap-drop=ALL",
		"--security-opt=no-new-privileges",
		"--security-opt", "seccomp=" + seccomp,
		"--label", LabelHardening + "=" + e.hardening(),
		"--read-only",
		"--tmpfs", fmt.Sprintf("/tmp:rw,nosuid,nodev,mode=1777,size=%d", tmp),
		"--tmpfs", e.homeTmpfs(uid, gid, tmp),
		// /dev/shm: the engines' 64 MiB, or less when --tmp-size is less.
		"--shm-size", strconv.FormatInt(min(tmp, 64<<20), 10),
		"--env", "HOME=" + sandbox.HomeDir,
		"--memory", mem,
		"--memory-swap", mem,
		"--cpus", or(spec.CPUs, sandbox.DefaultCPUs),
		"--pids-limit", strconv.Itoa(e.hostPids(spec)),
		"--network", "none",
		"--volume", spec.Project + ":" + workdir,
		"--workdir", workdir,
	}
	if e.runtime != "" {
		args = append(args, "--runtime", e.runtime)
	}
	if e.bin == "podman" {
		// podman's --read-only adds writable, uncapped tmpfs on /run,
		// /var/tmp and /tmp; only ralph's capped ones are wanted.
		args = append(args, "--read-only-tmpfs=false")
	}
	if spec.GateDir == "" {
		return append(args, "--label", LabelGate+"=false", spec.Image, "sleep", keepAlive)
	}
	args = append(args, "--label", LabelGate+"="+e.gateLabel(spec), "--volume", spec.GateDir+":"+sandbox.GateMount+":ro")
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"} {
		args = append(args, "--env", k+"=http://"+sandbox.ProxyAddr)
	}
	forward := []string{spec.Image, sandbox.GateMount + "/ralph", "sandbox-helper", "forward", "--listen", sandbox.ProxyAddr}
	if e.relay {
		// The relay's socket, in a volume it shares with this sandbox
		// alone; a connection waits for it while a run's relay starts.
		args = append(args, "--volume", relayName(spec.Name)+":"+sandbox.RelayMount+":ro")
		forward = append(forward, "--socket", sandbox.RelayMount+"/gate.sock", "--wait", "15s")
	} else {
		forward = append(forward, "--socket", sandbox.GateMount+"/gate.sock")
	}
	// The forwarder is the sandbox's main process: if it dies, the
	// sandbox stops, and nothing gets out either way.
	return append(args, forward...)
}

// gateLabel is LabelGate's value for spec: how the sandbox reaches the
// gate ("true": the socket mounted from the host; "relay"; "false":
// not at all). A sandbox made one way is never reused another way.
func (e *Engine) gateLabel(spec sandbox.Spec) string {
	switch {
	case spec.GateDir == "":
		return "false"
	case e.relay:
		return "relay"
	}
	return "true"
}

// hostPids is the engine's --pids-limit. Under gVisor the sandbox's
// limit is set inside, on gVisor's own cgroup (see limitGuest); the host
// limit caps the Sentry and its stub processes, about two host tasks per
// guest process (measured), so it gets four times the room: equal limits
// let a fork bomb kill the whole sandbox before the guest limit refuses.
func (e *Engine) hostPids(spec sandbox.Spec) int {
	n := orInt(spec.Pids, sandbox.DefaultPids)
	if e.runtime != "" {
		return 4 * n
	}
	return n
}

// homeTmpfs is the agent's HOME, owned by the agent: docker passes
// uid=/gid= to the kernel; podman 4 refuses them and chowns with U.
func (e *Engine) homeTmpfs(uid, gid string, size int64) string {
	if e.bin == "podman" {
		return fmt.Sprintf("%s:rw,nosuid,nodev,mode=0700,size=%d,U", sandbox.HomeDir, size)
	}
	return fmt.Sprintf("%s:rw,nosuid,nodev,uid=%s,gid=%s,mode=0700,size=%d", sandbox.HomeDir, uid, gid, size)
}

// User returns the --user value for spec (see sandbox.RunAs).
func User(spec sandbox.Spec) (string, error) {
	uid, gid, err := sandbox.RunAs(spec)
	return fmt.Sprintf("%d:%d", uid, gid), err
}

// WritableWarning says why the agent's user cannot write the project
// directory, or returns "".
func WritableWarning(project, user string) string {
	st, err := os.Stat(project)
	if err != nil {
		return ""
	}
	owner, group, ok := sandbox.FileOwner(st)
	if !ok {
		return ""
	}
	uid, gid := splitUser(user)
	perm := st.Mode().Perm()
	switch {
	case strconv.Itoa(owner) == uid && perm&0o200 != 0,
		strconv.Itoa(group) == gid && perm&0o020 != 0,
		perm&0o002 != 0:
		return ""
	}
	return fmt.Sprintf("warning: the agent runs as %s but %s belongs to %d:%d (mode %v): it will not be able to write the workspace; chown -R %s %s, or pass --user",
		user, project, owner, group, perm, user, project)
}

func splitUser(user string) (string, string) {
	for i := 0; i < len(user); i++ {
		if user[i] == ':' {
			return user[:i], user[i+1:]
		}
	}
	return user, user
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

var (
	_ sandbox.GateUser = (*Engine)(nil)
	_ sandbox.Warner   = (*Engine)(nil)
)

// GateOwner: the gate folder reaches a container through a mount.
func (e *Engine) GateOwner(spec sandbox.Spec) (*[2]int, error) { return nil, nil }

// Warnings: the agent's user cannot write the workspace.
func (e *Engine) Warnings(ctx context.Context, spec sandbox.Spec) ([]string, error) {
	user, err := User(spec)
	if err != nil {
		return nil, sandbox.Refused("%v", err)
	}
	if w := WritableWarning(spec.Project, user); w != "" {
		return []string{w}, nil
	}
	return nil, nil
}
