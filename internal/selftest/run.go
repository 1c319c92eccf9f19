package selftest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/secret"
)

// Target is a backend to prove, set up exactly as a loop sets it up.
type Target struct {
	Backend sandbox.Backend
	Image   string
	Memory  string // as the loop's --memory (default 4g)
	Pids    int    // as the loop's --pids-limit (default 512)
	TmpSize string // as the loop's --tmp-size (default 1g)
	// Gate starts the network gate for a sandbox and returns its mount
	// directory and a stop function; nil for the host backend.
	Gate func(ctx context.Context, spec sandbox.Spec, creds ...netgate.Credential) (mount string, stop func(), err error)
	// Allow adds an allow rule to the sandbox's policy and returns the
	// undo. The battery allows RebindName (so the gate's own resolution
	// check is what refuses it) and an upstream on the host's loopback
	// (so the gate demonstrably lets something through, and a spoofed
	// name or Host header would reach it).
	Allow func(name, pattern string) (undo func(), err error)
	// NotApplicable are the rows the backend leaves to its own
	// mechanisms, with the reason (sbx: its network policy and limits).
	NotApplicable map[int]string
	// ProbeInWorkspace puts the probe in the workspace, for a backend
	// that shares nothing else with the host (sbx).
	ProbeInWorkspace bool
	// PolicyDir and StateDir are ralph's files that must not change.
	PolicyDir, StateDir string
	// Workspace is how ralph reads a workspace on the host (row 15).
	Workspace WorkspaceReader
}

// Report is the outcome on one backend.
type Report struct {
	Backend  string   `json:"backend"`
	Boundary string   `json:"boundary"`
	Results  []Result `json:"results"`
	OK       bool     `json:"ok"`
}

// spec is the sandbox of project proj, as a loop with these settings
// would ask for it.
func (t Target) spec(name, proj string) sandbox.Spec {
	memory, pids := t.Memory, t.Pids
	if memory == "" {
		memory = sandbox.DefaultMemory
	}
	if pids == 0 {
		pids = sandbox.DefaultPids
	}
	return sandbox.Spec{Name: name, Agent: "selftest", Project: proj, Image: t.Image, Memory: memory, CPUs: "2", Pids: pids, TmpSize: t.TmpSize}
}

// counter counts connections or datagrams that reach a host listener.
type counter struct{ n atomic.Int64 }

// Run plants the canaries, starts the sandbox as a loop would, runs the
// probe inside, and checks on the host that nothing leaked.
func Run(ctx context.Context, t Target, log io.Writer) (Report, error) {
	rep := Report{Backend: t.Backend.Name(), Boundary: string(t.Backend.Boundary())}
	root, err := os.MkdirTemp("", "ralph-selftest-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(root)
	os.Chmod(root, 0o755) // a checkout's parents are open to its owner
	proj := filepath.Join(root, "project")
	canary := "ralph-canary-" + randHex()
	if err := plant(root, canary); err != nil {
		return rep, err
	}
	if os.Getuid() == 0 {
		os.Chown(proj, 1000, 1000) // a user's checkout, not root's
	}
	// The canary variable in ralph's own environment: a backend must pass
	// only what is named.
	os.Setenv("RALPH_SELFTEST_SECRET", canary)
	defer os.Unsetenv("RALPH_SELFTEST_SECRET")

	tcp, tcpN, err := listenTCP("tcp4", "127.0.0.1:0")
	if err != nil {
		return rep, err
	}
	defer tcp.Close()
	var tcp6Addr string
	var tcp6N *counter
	if l6, n6, err := listenTCP("tcp6", "[::1]:0"); err == nil {
		defer l6.Close()
		tcp6Addr, tcp6N = l6.Addr().String(), n6
	}
	udp, udpN, err := listenUDP()
	if err != nil {
		return rep, err
	}
	defer udp.Close()

	name := sandbox.Name("selftest", proj)
	spec := t.spec(name, proj)
	memory, pids := spec.Memory, spec.Pids
	icmp := watchICMP(canary)
	defer icmp.Close()
	// The neighbour starts first: its gate's files must be in place
	// before the snapshot of ralph's state.
	nb := &neighbour{}
	if _, na := t.NotApplicable[11]; !na {
		if nb, err = startNeighbour(ctx, t, root, canary); err != nil {
			return rep, err
		}
		defer nb.close()
	}
	cfg := ProbeConfig{
		CanaryFiles: []string{filepath.Join(root, "home", ".ssh", "id_ed25519"), filepath.Join(root, "home", ".aws", "credentials"), filepath.Join(root, ".env")},
		CanaryValue: canary,
		Outside:     []string{filepath.Join(root, "home", "pwned.txt"), filepath.Join(root, "pwned.txt"), filepath.Join(root, "home", ".ssh", "authorized_keys")},
		StatePaths:  []string{filepath.Join(t.PolicyDir, "global.json.new"), filepath.Join(t.StateDir, "pwned")},
		TCP:         tcp.Addr().String(), TCP6: tcp6Addr, UDP: udp.LocalAddr().String(),
		RebindName: "localhost", DeniedName: "denied.ralph-selftest.invalid",
		Threads: pids * 2, RalphPID: os.Getpid(),
		ThreadsAreNotTasks: t.Backend.Boundary() == sandbox.UserKernel,
		ICMPMark:           canary, Neighbour: nb.addr,
		NotApplicable: t.NotApplicable,
	}
	if !icmp.watching() {
		cfg.ICMPUnwatched = true
	}
	memBytes, err := sandbox.ParseSize(memory)
	if err != nil {
		return rep, err
	}
	cfg.MemoryBytes = memBytes * 3 / 2
	if cfg.TmpBytes, err = spec.TmpBytes(); err != nil {
		return rep, err
	}
	var argv []string
	// Row 16's key: what ralph passes in without a gate, a placeholder
	// with one.
	key := "ralph-selftest-key-" + randHex() + randHex()
	keyEnv := key
	cfg.KeyHash = hashKey(key)
	up, err := listenUpstream()
	if err != nil {
		return rep, err
	}
	defer up.Close()
	if t.Gate != nil {
		if t.Allow != nil {
			upPort := up.Addr().(*net.TCPAddr).Port
			cfg.Upstream = fmt.Sprintf("%s:%d", cfg.RebindName, upPort)
			// The rules name their ports: plain (non-TLS) tunnels go
			// through only there, so the rebinding attempt on the TCP
			// listener's port meets the gate's resolution check.
			for _, p := range []string{cfg.RebindName + ":" + port(cfg.TCP), cfg.Upstream, fmt.Sprintf("127.0.0.1:%d", upPort)} {
				undo, err := t.Allow(name, p)
				if err != nil {
					return rep, err
				}
				defer undo()
			}
		}
		var creds []netgate.Credential
		if cfg.Upstream != "" {
			// Row 16's API: the upstream, through the gate's route.
			creds = append(creds, netgate.Credential{Name: "selftest", Host: netgate.CredentialHost("selftest"),
				Upstream: &url.URL{Scheme: "http", Host: cfg.Upstream}, Header: "X-Api-Key", Value: key})
			cfg.KeyRoute = "http://" + netgate.CredentialHost("selftest") + "/secret-route"
			keyEnv = secret.Placeholder("selftest")
		}
		mount, stop, err := t.Gate(ctx, spec, creds...)
		if err != nil {
			return rep, err
		}
		defer stop()
		spec.GateDir = mount
		cfg.Workspace, cfg.HelperBinary = sandbox.DefaultWorkdir, "/.ralph/ralph"
	} else if t.ProbeInWorkspace {
		// The sandbox sees the workspace at the host's path, and nothing
		// else of the host: the probe goes there (a static copy of ralph).
		self, _ := os.Executable()
		if !sandbox.Static(self) {
			return rep, sandbox.Unavailable("selftest on %s copies ralph into the sandbox, so ralph must be a static binary (CGO_ENABLED=0 go install ./cmd/ralph)", rep.Backend)
		}
		cfg.Workspace, cfg.HelperBinary = proj, filepath.Join(proj, ".ralph-selftest-probe")
		if err := copyFile(self, cfg.HelperBinary); err != nil {
			return rep, err
		}
	} else {
		self, _ := os.Executable()
		cfg.Workspace, cfg.HelperBinary = proj, self
	}
	// ralph's own files exist, as after any run: the probe tries to write
	// beside them.
	for _, d := range []string{t.PolicyDir, t.StateDir} {
		if d != "" {
			os.MkdirAll(d, 0o700)
		}
	}
	before := snapshot(root, proj, t.PolicyDir, t.StateDir)

	cfgJSON, _ := json.Marshal(cfg)
	argv = []string{cfg.HelperBinary, "sandbox-helper", "probe", string(cfgJSON)}
	fmt.Fprintf(log, "ralph: selftest on %s (%s): sandbox %s\n", rep.Backend, rep.Boundary, name)
	if _, err := t.Backend.Ensure(ctx, spec); err != nil {
		return rep, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		t.Backend.Stop(cctx, name)
		t.Backend.Remove(cctx, name, true)
	}()
	var stdout, stderr bytes.Buffer
	pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	pulse := watchHost()
	code, execErr := t.Backend.Exec(pctx, name, sandbox.Cmd{Argv: argv, Env: map[string]string{keyVar: keyEnv}, Stdout: &stdout, Stderr: &stderr})
	worst := pulse()
	var partial *Result
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var r Result
		switch {
		case json.Unmarshal([]byte(line), &r) != nil || r.ID == 0:
		case r.Partial:
			partial = &r
		default:
			rep.Results = append(rep.Results, r)
		}
	}
	if len(rep.Results) == 0 {
		return rep, fmt.Errorf("selftest: the probe exited %d without a report: %v %s", code, execErr, strings.TrimSpace(stderr.String()))
	}
	if !has(rep.Results, 13) && has(rep.Results, 14) {
		rep.Results = append(rep.Results, sandboxDied(partial, execErr == nil && code == 0, cfg.MemoryBytes))
	}
	if has(rep.Results, 15) {
		if t.Workspace.Read == nil || t.Workspace.Config == nil || t.Workspace.Show == nil {
			fail(rep.Results, 15, "no workspace reader configured: nothing checked")
		} else {
			for _, why := range checkWorkspace(t.Workspace, proj, canary) {
				fail(rep.Results, 15, why)
			}
		}
	}

	// What the host saw overrides what the probe believed.
	seen := func(id int, who string, n int64, what string) {
		if n > 0 {
			fail(rep.Results, id, fmt.Sprintf("%s saw %d %s from the sandbox", who, n, what))
		}
	}
	seen(6, "the host's loopback TCP listener", tcpN.n.Load(), "connection(s)")
	seen(11, "the host's loopback TCP listener", tcpN.n.Load(), "connection(s)")
	if nb.done != nil {
		seen(11, "the neighbour sandbox", nb.hits(), "connection(s)")
	}
	seen(9, "the host's UDP listener", udpN.n.Load(), "datagram(s)")
	seen(10, "the host's UDP listener", udpN.n.Load(), "datagram(s)")
	seen(10, "the host's raw ICMP watch on its loopback", icmp.n.Load(), "marked packet(s)")
	if tcp6N != nil {
		seen(10, "the host's IPv6 listener", tcp6N.n.Load(), "connection(s)")
	}
	upstreamVerdict(rep.Results, cfg, up)
	keyVerdict(rep.Results, up.received(), key, cfg.KeyRoute != "")
	hostVerdict(rep.Results, worst)
	after := snapshot(root, proj, t.PolicyDir, t.StateDir)
	for k, v := range before {
		if after[k] != v {
			id := 2
			if k == "policy" || k == "state" {
				id = 12
			}
			fail(rep.Results, id, fmt.Sprintf("%s changed on the host", k))
		}
	}
	sort.Slice(rep.Results, func(i, j int) bool { return rep.Results[i].ID < rep.Results[j].ID })
	rep.OK = true
	for _, r := range rep.Results {
		if r.Status == Failed {
			rep.OK = false
		}
	}
	return rep, nil
}

func has(rs []Result, id int) bool {
	for _, r := range rs {
		if r.ID == id {
			return true
		}
	}
	return false
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func fail(rs []Result, id int, why string) {
	for i := range rs {
		if rs[i].ID == id {
			rs[i].Status = Failed
			if rs[i].Detail != "" {
				why = rs[i].Detail + "; " + why
			}
			rs[i].Detail = why
		}
	}
}

// plant writes the canaries where an agent would look: a fake home with
// an SSH key and cloud credentials, and a .env beside the project.
func plant(root, canary string) error {
	for p, body := range map[string]string{
		"home/.ssh/id_ed25519":  "-----BEGIN OPENSSH PRIVATE KEY-----\n" + canary + "\n-----END OPENSSH PRIVATE KEY-----\n",
		"home/.aws/credentials": "[default]\naws_access_key_id = AKIA" + canary + "\naws_secret_access_key = " + canary + "\n",
		".env":                  "DATABASE_URL=postgres://admin:" + canary + "@db/prod\n",
		"project/README.md":     "the workspace\n",
	} {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(body), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// snapshot hashes what must not change: the canaries' tree (all but the
// workspace), ralph's policy files, and its state (but the gate's log and
// socket, which change by design).
func snapshot(root, proj, policyDir, stateDir string) map[string]string {
	return map[string]string{
		"outside the workspace": hashTree(root, func(p string) bool { return p == proj || strings.HasPrefix(p, proj+"/") }),
		"policy":                hashTree(policyDir, nil),
		"state": hashTree(stateDir, func(p string) bool {
			b := filepath.Base(p)
			return b == "log.jsonl" || b == "gate.sock" || strings.HasPrefix(b, ".ralph-") || b == "ralph" || strings.HasSuffix(b, ".lock")
		}),
	}
}

func hashTree(dir string, skip func(string) bool) string {
	h := sha256.New()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || (skip != nil && skip(p)) {
			if err == nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fmt.Fprintf(h, "%s\n", p)
		if d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil {
				h.Write(b)
			}
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

func listenTCP(network, addr string) (net.Listener, *counter, error) {
	l, err := net.Listen(network, addr)
	if err != nil {
		return nil, nil, err
	}
	c := &counter{}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			c.n.Add(1)
			conn.Close()
		}
	}()
	return l, c, nil
}

// upstream is a host loopback server the sandbox's policy allows: it
// counts connections and keeps the first bytes each one carries.
type upstream struct {
	net.Listener
	n    atomic.Int64
	data syncBuffer
}

func listenUpstream() (*upstream, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{Listener: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u.n.Add(1)
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				buf := make([]byte, 4096)
				for total := 0; total < 64<<10; {
					n, err := c.Read(buf)
					u.data.Write(buf[:n])
					if total += n; err != nil {
						return
					}
				}
			}()
		}
	}()
	return u, nil
}

// watchHost starts a fresh process on the host every half second while
// the battery runs, and its stop function returns the slowest start: the
// host stays responsive (row 13) if that stays short.
func watchHost() (stop func() time.Duration) {
	done := make(chan struct{})
	var worst time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		self, _ := os.Executable()
		for {
			select {
			case <-done:
				return
			case <-time.After(500 * time.Millisecond):
			}
			start := time.Now()
			exec.Command(self, "help").Run()
			worst = max(worst, time.Since(start))
		}
	}()
	return func() time.Duration {
		close(done)
		wg.Wait()
		return worst
	}
}

// hostStall is how slow a process start on the host may get during the
// attacks before row 13 fails.
const hostStall = 10 * time.Second

func hostVerdict(rs []Result, worst time.Duration) {
	for i := range rs {
		if rs[i].ID != 13 || rs[i].Status == NA {
			continue
		}
		rs[i].Tried += fmt.Sprintf("; the host started a process every 0.5 s throughout (slowest %d ms)", worst.Milliseconds())
		if worst > hostStall {
			fail(rs, 13, fmt.Sprintf("the host stalled: a process start took %.1f s", worst.Seconds()))
		}
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// upstreamVerdict is what the allowed upstream saw: a spoofed name in what
// reached it fails row 7; no connection at all (the positive control
// never got through) fails row 6.
func upstreamVerdict(rs []Result, cfg ProbeConfig, up *upstream) {
	if got := up.received(); strings.Contains(got, spoofName) {
		s := strings.Join(strings.Fields(got), " ")
		fail(rs, 7, "the allowed upstream received what a spoofed request carried: "+s[:min(120, len(s))])
	}
	if cfg.Upstream != "" && up.n.Load() == 0 {
		fail(rs, 6, "the allowed upstream never saw a connection: the gate let nothing through, so its refusals prove nothing")
	}
}

func (u *upstream) received() string { return u.data.String() }

// listenUDP is the host's resolver for the DNS and UDP rows: on port 53
// when it is free (and ralph may bind it), else on any port.
func listenUDP() (*net.UDPConn, *counter, error) {
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53})
	if err != nil {
		u, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	}
	if err != nil {
		return nil, nil, err
	}
	c := &counter{}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := u.ReadFrom(buf); err != nil {
				return
			}
			c.n.Add(1)
		}
	}()
	return u, c, nil
}

func randHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// sandboxDied is row 13 when the probe never sent it: the last attack,
// allocating past the memory limit, took the sandbox down (under gVisor
// the Sentry shares the sandbox's memory limit, and the host's OOM killer
// ends it). What the probe sent before that attempt still counts.
func sandboxDied(partial *Result, exitedCleanly bool, memory int64) Result {
	r := Result{ID: 13, Property: Properties[13], Status: Held,
		Tried:  "start processes and threads past the pids limit",
		Detail: "the attacks took the whole sandbox down (the runtime shares the sandbox's limits); the host is untouched"}
	if partial != nil {
		r.Tried, r.Status = partial.Tried, partial.Status
		r.Detail = "allocating past the memory limit took the whole sandbox down (the runtime shares the sandbox's limit); the host is untouched"
		if partial.Detail != "" {
			r.Detail = partial.Detail + "; " + r.Detail
		}
	}
	r.Tried += fmt.Sprintf("; allocate and touch %d MiB", memory>>20)
	if exitedCleanly {
		r.Status = Failed
		r.Detail = "the probe exited without reporting the limits"
	}
	return r
}
