// Package selftest proves a sandbox's boundary with an attack battery.
// The attacker is ralph itself: Probe runs inside the sandbox (the same
// static binary, mounted read-only), tries each attack, and reports what
// held; the host side (Run) plants canaries before and checks after that
// none leaked and nothing outside the workspace changed.
package selftest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Status of one property.
const (
	Held   = "held"
	Failed = "FAILED"
	NA     = "not applicable"
)

// Result is one row of the table.
type Result struct {
	ID       int    `json:"id"`
	Property string `json:"property"`
	Tried    string `json:"tried"`
	Status   string `json:"status"`
	Detail   string `json:"detail,omitempty"`
	// Partial marks a row the probe sends before its last attempt,
	// in case that attempt takes the sandbox down with it.
	Partial bool `json:"partial,omitempty"`
}

// ProbeConfig tells the probe what to attack. Paths are host paths the
// sandbox must not see; addresses are host listeners it must not reach.
type ProbeConfig struct {
	CanaryFiles []string `json:"canary_files"`
	CanaryValue string   `json:"canary_value"`
	Workspace   string   `json:"workspace"`
	Outside     []string `json:"outside"`
	StatePaths  []string `json:"state_paths"`
	TCP         string   `json:"tcp"`
	TCP6        string   `json:"tcp6,omitempty"`
	UDP         string   `json:"udp"`
	RebindName  string   `json:"rebind_name"`
	// Upstream (RebindName:PORT) is a host loopback server the policy
	// allows, name and address: the positive control of the gate.
	Upstream    string `json:"upstream,omitempty"`
	DeniedName  string `json:"denied_name"`
	MemoryBytes int64  `json:"memory_bytes"`
	// TmpBytes is the cap of /tmp and HOME.
	TmpBytes int64 `json:"tmp_bytes"`
	Threads  int   `json:"threads"`
	// ThreadsAreNotTasks is set under a user-space kernel (gVisor):
	// its threads are not host tasks and its pids controller counts
	// processes, so only the memory limit bounds threads.
	ThreadsAreNotTasks bool   `json:"threads_are_not_tasks,omitempty"`
	HelperBinary       string `json:"helper_binary"`
	RalphPID           int    `json:"ralph_pid"`
	// ICMPMark is the payload of the probe's echo requests, which the
	// host watches for on its loopback; ICMPUnwatched says it cannot
	// (no CAP_NET_RAW there).
	ICMPMark      string    `json:"icmp_mark"`
	ICMPUnwatched bool      `json:"icmp_unwatched,omitempty"`
	Neighbour     Neighbour `json:"neighbour"`
	// NotApplicable holds the rows the backend leaves to its own
	// mechanisms, with the reason (the network rows, 6 to 11, are
	// one block: all or none).
	NotApplicable map[int]string `json:"not_applicable,omitempty"`
	// KeyHash is the SHA-256 of row 16's key, KeyRoute the gate's route
	// for its API (secretrow.go).
	KeyHash  string `json:"key_hash,omitempty"`
	KeyRoute string `json:"key_route,omitempty"`
}

// finding accumulates the outcome of one property's attempts.
type finding struct {
	tried  []string
	breach []string
}

func (f *finding) try(what string, breached bool, detail string) {
	f.tried = append(f.tried, what)
	if breached {
		f.breach = append(f.breach, what+": "+detail)
	}
}

func (f *finding) result(id int) Result {
	r := Result{ID: id, Property: Properties[id], Tried: strings.Join(f.tried, "; "), Status: Held}
	if len(f.breach) > 0 {
		r.Status, r.Detail = Failed, strings.Join(f.breach, "; ")
	}
	return r
}

// Probe runs the battery and calls report with each result as soon as it
// is known: the resource attacks come last and may take the whole sandbox
// down with them.
//
// A property the backend leaves to its own mechanisms (cfg.NotApplicable)
// is reported as such, and its attacks are not run.
func Probe(cfg ProbeConfig, report func(Result)) {
	run := func(id int, attack func() Result) {
		if why, ok := cfg.NotApplicable[id]; ok {
			report(Result{ID: id, Property: Properties[id], Status: NA, Detail: why})
			return
		}
		report(attack())
	}
	for i, r := range []func(ProbeConfig) Result{secrets, writes, links, sockets, privileges} {
		run(i+1, func() Result { return r(cfg) })
	}
	if _, ok := cfg.NotApplicable[6]; ok {
		for id := 6; id <= 11; id++ {
			run(id, nil)
		}
	} else {
		for _, r := range network(cfg) {
			run(r.ID, func() Result { return r })
		}
	}
	run(12, func() Result { return state(cfg) })
	run(15, func() Result { return plantWorkspace(cfg) })
	run(16, func() Result { return storedSecret(cfg) })
	run(14, func() Result { return escapes(cfg) })
	run(13, func() Result { return limits(cfg, report) })
}

func readable(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.Read(b)
	return err == nil || err == io.EOF
}

func secrets(cfg ProbeConfig) Result {
	var f finding
	for _, p := range cfg.CanaryFiles {
		f.try("read "+p, readable(p), "readable")
	}
	leaked := false
	for _, kv := range os.Environ() {
		if strings.Contains(kv, cfg.CanaryValue) {
			leaked = true
		}
	}
	f.try("look for the canary variable in the environment", leaked, "present")
	home, _ := os.UserHomeDir()
	for _, p := range []string{".ssh/id_ed25519", ".ssh/id_rsa", ".aws/credentials", ".config/gh/hosts.yml"} {
		if b, err := os.ReadFile(filepath.Join(home, p)); err == nil && strings.Contains(string(b), cfg.CanaryValue) {
			f.try("read ~/"+p, true, "holds the canary")
		}
	}
	return f.result(1)
}

// create tries to make a new file at p without making any directory; a
// file it made is removed at once, so a breach leaves nothing behind.
func create(p string) bool {
	fh, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return false
	}
	fh.Close()
	os.Remove(p)
	return true
}

func openWritable(p string) bool {
	fh, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	fh.Close()
	return true
}

func writes(cfg ProbeConfig) Result {
	var f finding
	targets := append([]string{}, cfg.Outside...)
	targets = append(targets, "/ralph-selftest-breach", "/etc/ralph-selftest-breach", "/usr/ralph-selftest-breach",
		filepath.Join(cfg.Workspace, "..", "ralph-selftest-breach"),
		filepath.Join(cfg.Workspace, "..", "..", "ralph-selftest-breach"))
	for _, p := range targets {
		f.try("create "+p, create(p), "created")
	}
	// Every mount point (and the usual folders of the root file system):
	// a writable one that is not the workspace or a capped in-memory
	// folder is a place to write past every limit.
	var extra []string
	for _, d := range writableMounts() {
		if !allowedWritable(d, cfg.Workspace, os.Getenv("HOME")) {
			extra = append(extra, d)
		}
	}
	f.try("create a file in every mount point and usual folder (/proc/self/mountinfo)", len(extra) > 0, "writable: "+strings.Join(extra, ", "))
	return f.result(2)
}

func links(cfg ProbeConfig) Result {
	var f finding
	for i, c := range cfg.CanaryFiles {
		l := filepath.Join(cfg.Workspace, fmt.Sprintf(".ralph-selftest-link-%d", i))
		os.Remove(l)
		if os.Symlink(c, l) == nil {
			f.try("symlink in the workspace to "+c, readable(l), "read through it")
			os.Remove(l)
		}
		h := filepath.Join(cfg.Workspace, fmt.Sprintf(".ralph-selftest-hard-%d", i))
		err := os.Link(c, h)
		f.try("hard link of "+c+" into the workspace", err == nil, "linked")
		os.Remove(h)
		for _, via := range []string{"/proc/self/root", "/proc/1/root", "/proc/self/cwd/.."} {
			p := via + c
			f.try("read "+p, readable(p), "readable")
		}
	}
	return f.result(3)
}

func sockets(cfg ProbeConfig) Result {
	var f finding
	for _, p := range []string{"/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
		"/run/podman/podman.sock", "/var/run/crio/crio.sock", "/run/buildkit/buildkitd.sock", os.Getenv("SSH_AUTH_SOCK")} {
		if p == "" {
			continue
		}
		_, err := os.Stat(p)
		f.try("stat "+p, err == nil, "present")
	}
	var found []string
	n := 0
	filepath.WalkDir("/", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (p == "/proc" || p == "/sys" || p == "/dev") {
			return filepath.SkipDir
		}
		if n++; n > 300000 {
			return filepath.SkipAll
		}
		// The gate's socket: mounted from the host, or the relay's
		// (decision 014), in a volume it shares with this sandbox alone.
		if d.Type()&fs.ModeSocket != 0 && p != "/.ralph/gate.sock" && p != "/.ralph-gate/gate.sock" {
			found = append(found, p)
		}
		return nil
	})
	f.try("find / -type s", len(found) > 0, strings.Join(first(found, 5), ", "))
	if b, err := os.ReadFile("/proc/net/unix"); err == nil {
		var abstract []string
		for _, l := range strings.Split(string(b), "\n") {
			fs := strings.Fields(l)
			if len(fs) >= 8 && strings.HasPrefix(fs[7], "@") {
				abstract = append(abstract, fs[7])
			}
		}
		f.try("abstract sockets in /proc/net/unix", len(abstract) > 0, strings.Join(first(abstract, 5), ", "))
	}
	return f.result(4)
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}

func privileges(cfg ProbeConfig) Result {
	var f finding
	f.try("id -u", os.Getuid() == 0 || os.Geteuid() == 0, "root")
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(l, ":")
		v = strings.TrimSpace(v)
		switch {
		case !ok:
		case k == "CapEff" || k == "CapPrm" || k == "CapBnd" || k == "CapAmb":
			f.try(k, strings.Trim(v, "0") != "", v)
		case k == "NoNewPrivs":
			f.try("no-new-privileges", v != "1", "NoNewPrivs "+v)
		}
	}
	return f.result(5)
}

// dialProxy opens a connection to the sandbox's proxy, if it has one.
func proxyAddr() string {
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if v := os.Getenv(k); v != "" {
			if u, err := url.Parse(v); err == nil {
				return u.Host
			}
		}
	}
	return ""
}

// connect sends a CONNECT through the proxy and returns the status line
// and the open connection.
func connect(proxy, target, extra string) (string, net.Conn, error) {
	c, err := net.DialTimeout("tcp", proxy, 5*time.Second)
	if err != nil {
		return "", nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n%s", target, target, extra)
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		c.Close()
		return "", nil, err
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil || l == "\r\n" {
			break
		}
	}
	return strings.TrimSpace(line), &bufConn{c, br}, nil
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

func ok200(line string) bool { return strings.Contains(line, " 200") }

// refused is the gate's answer to what its policy does not allow.
func refused(line string) bool { return strings.Contains(line, " 403 ") }

// spoofName is the name the spoofing attempts claim.
const spoofName = "evil.ralph-selftest.invalid"

// carries reports whether a tunnel returns any byte after the request.
func carries(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(8 * time.Second))
	b := make([]byte, 1)
	n, _ := c.Read(b)
	return n > 0
}

func dial(network, addr string) bool {
	c, err := net.DialTimeout(network, addr, 3*time.Second)
	if err != nil {
		return false
	}
	if network == "udp" {
		// Sending to a loopback address always "works": whether it got out
		// is what the host's listener counts.
		c.Write(dnsQuery("ralph-selftest-exfil.invalid", 16))
		c.Close()
		return false
	}
	c.Close()
	return true
}

// dnsQuery builds a DNS query packet for name and type.
func dnsQuery(name string, qtype uint16) []byte {
	b := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0, byte(qtype>>8), byte(qtype), 0, 1)
}

func network(cfg ProbeConfig) []Result {
	proxy := proxyAddr()
	_, port, _ := net.SplitHostPort(cfg.TCP)
	var egress, spoof, literals, dns, udp6, local finding

	// 6. Egress to what the policy does not allow: refused by the policy
	// (403), not failing for another reason, such as a name that does not
	// resolve. The positive control: the allowed upstream gets through.
	if proxy != "" {
		if cfg.Upstream == "" {
			egress.try("an allowed upstream to show the gate lets anything through", true, "none configured")
		} else {
			line, c, err := connect(proxy, cfg.Upstream, "")
			if err == nil {
				io.WriteString(c, "ralph selftest: positive control\n")
				c.Close()
			}
			egress.try("CONNECT "+cfg.Upstream+" (allowed: the positive control)", !ok200(line), "not let through ("+line+"), so the refusals below prove nothing")
		}
		req := "GET http://" + cfg.DeniedName + "/ HTTP/1.1\r\nHost: " + cfg.DeniedName + "\r\n\r\n"
		c, err := net.DialTimeout("tcp", proxy, 5*time.Second)
		status := ""
		if err == nil {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, req)
			status, _ = bufio.NewReader(c).ReadString('\n')
			c.Close()
		}
		egress.try("HTTP GET http://"+cfg.DeniedName+"/ through the proxy", !refused(status), "not refused by the policy: "+strings.TrimSpace(status))
		line, tc, err := connect(proxy, cfg.DeniedName+":443", "")
		if err == nil {
			tc.Close()
		}
		egress.try("CONNECT "+cfg.DeniedName+":443", !refused(line), "not refused by the policy: "+line)
	}
	egress.try("direct TCP to the host's loopback listener "+cfg.TCP+" (proxy variables unset)", dial("tcp", cfg.TCP), "connected")
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	if resp, err := hc.Get("http://" + cfg.TCP + "/"); err == nil {
		resp.Body.Close()
		egress.try("direct HTTP to "+cfg.TCP, true, resp.Status)
	} else {
		egress.try("direct HTTP to "+cfg.TCP, false, "")
	}

	// 7. SNI and Host spoofing toward an allowed name: the host's upstream
	// tells whether anything spoofed reached it.
	if proxy != "" && cfg.Upstream != "" {
		line, c, err := connect(proxy, cfg.Upstream, "")
		if err == nil && ok200(line) {
			// A ClientHello that names another host.
			herr := tlsClient(c, spoofName).Handshake()
			spoof.try("CONNECT "+cfg.Upstream+" with TLS SNI "+spoofName, herr == nil, "handshake completed")
			c.Close()
		} else {
			spoof.try("CONNECT "+cfg.Upstream, true, "the allowed upstream was refused ("+line+"): nothing to spoof toward")
		}
		c2, err := net.DialTimeout("tcp", proxy, 5*time.Second)
		if err == nil {
			c2.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c2, "GET http://%s/ HTTP/1.1\r\nHost: %s\r\n\r\n", cfg.Upstream, spoofName)
			status, _ := bufio.NewReader(c2).ReadString('\n')
			c2.Close()
			spoof.try("GET http://"+cfg.Upstream+"/ with Host: "+spoofName, !refused(status), "not refused: "+strings.TrimSpace(status))
		}
		// The same Host spoof behind 20 KB of padding: a gate that reads a
		// bounded prefix for its Host check must refuse the whole request.
		if c3, err := net.DialTimeout("tcp", proxy, 5*time.Second); err == nil {
			c3.SetDeadline(time.Now().Add(10 * time.Second))
			go fmt.Fprintf(c3, "GET http://%s/ HTTP/1.1\r\nX-Pad: %s\r\nHost: %s\r\n\r\n", cfg.Upstream, strings.Repeat("a", 20<<10), spoofName)
			status, _ := bufio.NewReader(c3).ReadString('\n')
			c3.Close()
			spoof.try("GET http://"+cfg.Upstream+"/ with 20 KB of headers, then Host: "+spoofName, !strings.Contains(status, " 431 ") && !refused(status), "not refused: "+strings.TrimSpace(status))
		}
		// A ClientHello that names another host, sent after a pause (past
		// the 2 s a gate might wait before it trusts a tunnel).
		if line, c4, err := connect(proxy, cfg.Upstream, ""); err == nil {
			if ok200(line) {
				time.Sleep(2500 * time.Millisecond)
				herr := tlsClient(c4, spoofName).Handshake()
				spoof.try("CONNECT "+cfg.Upstream+", a 2.5 s pause, then TLS SNI "+spoofName, herr == nil, "handshake completed")
			}
			c4.Close()
		}
	} else if proxy != "" {
		spoof.try("an allowed upstream to spoof toward", true, "none configured")
	} else {
		spoof.try("look for an egress gate", true, "no proxy: nothing checks names, every destination is open")
	}

	// 8. IP literals, private and metadata ranges, a name resolving to loopback.
	if proxy != "" {
		for _, t := range []string{"2130706433:" + port, "0x7f.1:" + port, "0177.0.0.1:" + port, "[::ffff:127.0.0.1]:" + port,
			"169.254.169.254:80", "[fd00:ec2::254]:80", "10.0.0.1:80", "192.168.0.1:80", "100.64.0.1:80"} {
			line, c, err := connect(proxy, t, "")
			if err == nil {
				c.Close()
			}
			literals.try("CONNECT "+t, !refused(line), "not refused by the policy: "+line)
		}
		line, c, err := connect(proxy, cfg.RebindName+":"+port, "GET / HTTP/1.0\r\n\r\n")
		if err == nil {
			literals.try("CONNECT "+cfg.RebindName+":"+port+" (resolves to loopback)", ok200(line) && carries(c), "the tunnel carried data")
			c.Close()
		}
	} else {
		literals.try("direct TCP to 127.0.0.1:"+port, dial("tcp", "127.0.0.1:"+port), "connected")
	}

	// 9. DNS exfiltration: queries sent to a resolver outside (the host's
	// listener counts what arrives), and any route a resolver could use.
	dns.try("DNS TXT query to a resolver on the host ("+cfg.UDP+")", dial("udp", cfg.UDP), "")
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + ".ralph-selftest.invalid"
	if c, err := net.DialTimeout("udp", cfg.UDP, 3*time.Second); err == nil {
		c.Write(dnsQuery(long, 1))
		c.Close()
	}
	dns.try("long-label DNS query to the same resolver", false, "")
	ifs := outsideInterfaces()
	dns.try("a network interface a resolver could be reached through", len(ifs) > 0, strings.Join(ifs, ", "))

	// 10. UDP and IPv6.
	udp6.try("UDP datagram to "+cfg.UDP, dial("udp", cfg.UDP), "")
	udp6.try("an interface other than loopback (IPv4 or IPv6)", len(ifs) > 0, strings.Join(ifs, ", "))
	if cfg.TCP6 != "" {
		udp6.try("IPv6 TCP to "+cfg.TCP6, dial("tcp", cfg.TCP6), "connected")
	}
	if cfg.ICMPMark != "" {
		icmp := "ICMP echo requests to 127.0.0.1 and ::1 (no ICMP socket could be opened)"
		if sent := pingLoopback(cfg.ICMPMark); len(sent) > 0 {
			icmp = "ICMP echo requests: " + strings.Join(sent, ", ")
		}
		if cfg.ICMPUnwatched {
			icmp += "; the host could not watch for it (no CAP_NET_RAW there)"
		}
		udp6.tried = append(udp6.tried, icmp)
	}

	// 11. The host's loopback services and other sandboxes.
	local.try("TCP to the host's loopback listener "+cfg.TCP, dial("tcp", cfg.TCP), "connected")
	if cfg.Neighbour.TCP != "" {
		reachNeighbour(cfg.Neighbour, &local)
	}

	return []Result{
		egress.result(6),
		spoof.result(7),
		literals.result(8),
		dns.result(9),
		udp6.result(10),
		local.result(11),
	}
}

func state(cfg ProbeConfig) Result {
	var f finding
	paths := []string{"/.ralph/ralph-selftest-breach", "/.ralph/gate.sock.new"}
	if _, err := os.Stat("/.ralph-gate"); err == nil {
		paths = append(paths, "/.ralph-gate/ralph-selftest-breach", "/.ralph-gate/gate.sock.new")
	}
	for _, p := range append(paths, cfg.StatePaths...) {
		f.try("create "+p, create(p), "created")
	}
	if _, err := os.Stat("/.ralph/ralph"); err == nil {
		f.try("open ralph's own binary for writing", openWritable("/.ralph/ralph"), "opened")
	}
	return f.result(12)
}

// limits runs the fork and allocation attacks in child processes, so the
// probe survives the sandbox killing them.
func limits(cfg ProbeConfig, report func(Result)) Result {
	var f finding
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := helper(ctx, cfg.HelperBinary, "procs", fmt.Sprint(cfg.Threads))
	f.try(fmt.Sprintf("fork %d processes", cfg.Threads), err == nil && strings.Contains(out, "done"), "all started")
	if cfg.ThreadsAreNotTasks {
		f.tried = append(f.tried, "threads: not host tasks here, bounded by the memory limit only (not counted)")
	} else {
		out, err = helper(ctx, cfg.HelperBinary, "threads", fmt.Sprint(cfg.Threads))
		f.try(fmt.Sprintf("start %d threads", cfg.Threads), err == nil && strings.Contains(out, "done"), "all started")
	}
	// The in-memory file systems: past their cap, a write fails
	// (ENOSPC) before it can eat the sandbox's memory.
	// /tmp, HOME and every other writable in-memory mount found (the
	// workspace is the host's disk and has no cap: see row 13's note).
	dirs := []string{"/tmp", os.Getenv("HOME")}
	for _, d := range inMemoryMounts() {
		if d != "/tmp" && d != os.Getenv("HOME") && !allowedWritable(d, cfg.Workspace, "") || d == "/dev/shm" {
			dirs = append(dirs, d)
		}
	}
	for _, dir := range dirs {
		if dir == "" || cfg.TmpBytes == 0 {
			continue
		}
		// The positive control: a small write must work, or the cap is
		// not what stops the large one.
		out, err = helper(ctx, cfg.HelperBinary, "fill", dir, fmt.Sprint(1<<20))
		if err != nil || !strings.Contains(out, "done") {
			f.try("write 1 MiB into "+dir, true, "failed, so nothing shows that the size limit is what stops a large write: "+strings.TrimSpace(out))
			continue
		}
		over := cfg.TmpBytes + 64<<20
		out, err = helper(ctx, cfg.HelperBinary, "fill", dir, fmt.Sprint(over))
		f.try(fmt.Sprintf("write %d MiB into %s", over>>20, dir), err == nil && strings.Contains(out, "done"), "all written")
	}
	partial := f.result(13)
	partial.Partial = true
	report(partial)
	out, err = helper(ctx, cfg.HelperBinary, "alloc", fmt.Sprint(cfg.MemoryBytes))
	f.try(fmt.Sprintf("allocate and touch %d MiB", cfg.MemoryBytes>>20), err == nil && strings.Contains(out, "done"), "allocated")
	return f.result(13)
}

// Properties are the rows of the table, by number.
var Properties = map[int]string{
	1:  "Host secrets unreadable",
	2:  "No writes outside the workspace",
	3:  "No escape through links or /proc roots",
	4:  "No engine or agent socket reachable",
	5:  "Not root, no capabilities, no new privileges",
	6:  "Egress to hosts the policy does not allow fails",
	7:  "SNI and Host spoofing toward an allowed name fail",
	8:  "IP literals, private and metadata ranges, names resolving to loopback fail",
	9:  "DNS exfiltration gets no answer",
	10: "UDP, ICMP and IPv6 get out nowhere",
	11: "The host's loopback services and other sandboxes are unreachable",
	12: "The agent cannot change the policy, the gate or ralph's state",
	13: "The pids, memory and /tmp and HOME size limits hold (the workspace: the host's disk, no quota)",
	14: "Runtime escape classics have no effect",
	15: "The workspace cannot steer ralph on the host (config, links, FIFOs, escapes)",
	16: "A stored secret never enters the sandbox and reaches only its API",
}

func escapes(cfg ProbeConfig) Result {
	var f finding
	f.try("open /proc/self/exe for writing", openWritable("/proc/self/exe"), "opened")
	// Opened for writing, never written: on a host that allows it, the
	// probe must not change anything.
	for _, p := range []string{"/proc/sys/kernel/hostname", "/sys/kernel/uevent_helper", "/proc/sysrq-trigger"} {
		w := openWritable(p)
		f.try("open "+p+" for writing", w, "opened")
	}
	dirs := fds()
	var through []string
	for _, fd := range dirs {
		for _, c := range cfg.CanaryFiles {
			if readable(fd + "/../../../../../../../.." + c) {
				through = append(through, fd)
			}
		}
	}
	f.try(fmt.Sprintf("read the canaries through %d inherited directory descriptors", len(dirs)), len(through) > 0, strings.Join(through, ", "))
	escapeSyscalls(&f, cfg.RalphPID, cfg.ThreadsAreNotTasks)
	return f.result(14)
}

// fds lists /proc/self/fd entries that are directories.
func fds() []string {
	entries, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range entries {
		p := "/proc/self/fd/" + e.Name()
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

var errNoHelper = errors.New("no helper binary")

// outsideInterfaces lists the interfaces, other than loopback, that are
// up and have an address: a way out, unless ralph's gate is the only one.
func outsideInterfaces() []string {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []string
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 || i.Flags&net.FlagUp == 0 {
			continue
		}
		if addrs, err := i.Addrs(); err == nil && len(addrs) > 0 {
			out = append(out, i.Name+" "+addrs[0].String())
		}
	}
	return out
}
