//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/fleet"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// localCluster is the cluster `shared/k8s/up $K8S_LOCAL_DIR --kubelet`
// started (never $KUBECONFIG: a developer's may point at a real cluster).
func localCluster(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("K8S_LOCAL_DIR")
	if dir == "" {
		sandboxtest.Require(t, "kubernetes", errors.New("K8S_LOCAL_DIR unset: run shared/k8s/up DIR --kubelet (scripts/test.sh does)"))
	}
	if _, err := os.Stat(filepath.Join(dir, "kubeconfig")); err != nil {
		sandboxtest.Require(t, "kubernetes", err)
	}
	return dir
}

func kubectl(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(filepath.Join(dir, "kubectl"), args...).CombinedOutput()
	return string(out), err
}

// k8sTool finds a script of shared/k8s.
func k8sTool(t testing.TB, name string) string {
	t.Helper()
	for _, d := range []string{os.Getenv("K8S_TOOLS"), "../../../shared/k8s", "/work/shared/k8s"} {
		if d == "" {
			continue
		}
		if p, err := filepath.Abs(filepath.Join(d, name)); err == nil {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	t.Fatalf("shared/k8s/%s not found: set K8S_TOOLS", name)
	return ""
}

// fleetImage imports into the cluster an image with busybox, the host's
// git (with the libraries it links), a static ralph and the fake agent as
// claude (sandboxtest.BusyboxRootfs plus git): what a real fleet image
// holds, minus node.
func fleetImage(t testing.TB, dir, ralph, fake string) string {
	t.Helper()
	root := t.TempDir()
	sandboxtest.BusyboxRootfs(t, root, map[string]string{"/usr/local/bin/ralph": ralph, "/usr/local/bin/claude": fake})
	put := func(dst, src string) {
		t.Helper()
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(root, filepath.Dir(dst)), 0o755)
		if err := os.WriteFile(filepath.Join(root, dst), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// git: /usr/bin/git, /usr/lib/git-core (hard links kept) and every
	// library any of its programs links.
	elves := []string{"/usr/bin/git"}
	put("usr/bin/git", "/usr/bin/git")
	seen := map[uint64]string{}
	filepath.WalkDir("/usr/lib/git-core", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(root, p)
		switch {
		case d.IsDir():
			os.MkdirAll(dst, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			os.Symlink(l, dst)
		default:
			fi, _ := os.Stat(p)
			ino := fi.Sys().(*syscall.Stat_t).Ino
			if first, ok := seen[ino]; ok {
				return os.Link(first, dst)
			}
			seen[ino] = dst
			put(p, p)
			if head, _ := os.ReadFile(p); bytes.HasPrefix(head, []byte("\x7fELF")) {
				elves = append(elves, p)
			}
		}
		return nil
	})
	libs := map[string]bool{}
	for _, e := range elves {
		out, _ := exec.Command("ldd", e).Output()
		for _, f := range strings.Fields(string(out)) {
			if strings.HasPrefix(f, "/") {
				libs[f] = true
			}
		}
	}
	for l := range libs {
		real, err := filepath.EvalSymlinks(l)
		if err != nil {
			t.Fatal(err)
		}
		put(strings.TrimPrefix(l, "/"), real)
	}

	tarball := filepath.Join(t.TempDir(), "image.tar")
	ref := "ralph-fleet-e2e:" + fmt.Sprint(time.Now().UnixNano())
	if out, err := exec.Command(k8sTool(t, "mkimage"), ref, root, tarball).CombinedOutput(); err != nil {
		t.Fatalf("mkimage: %v\n%s", err, out)
	}
	if out, err := exec.Command(filepath.Join(dir, "ctr"), "images", "import", tarball).CombinedOutput(); err != nil {
		t.Fatalf("ctr images import: %v\n%s", err, out)
	}
	return ref
}

// podBridge makes sure the cluster's pod bridge exists (the CNI plugin
// creates it with the first pod) and returns its address: the host as
// pods see it.
func podBridge(t testing.TB, dir string) net.IP {
	t.Helper()
	if ip := bridgeAddr(); ip != nil {
		return ip
	}
	name := "ralph-e2e-warm-" + randHex(3)
	if out, err := kubectl(t, dir, "run", name, "--image=busybox:local", "--restart=Never", "--", "true"); err != nil {
		t.Fatalf("kubectl run: %v\n%s", err, out)
	}
	defer kubectl(t, dir, "delete", "pod", name, "--wait=false")
	for range 120 {
		if ip := bridgeAddr(); ip != nil {
			return ip
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatal("no pod bridge k8slocal0 after a pod ran")
	return nil
}

func bridgeAddr() net.IP {
	ifc, err := net.InterfaceByName("k8slocal0")
	if err != nil {
		return nil
	}
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP
		}
	}
	return nil
}

// podToPod lets pods on the bridge reach each other while the test runs
// (Docker sets FORWARD to DROP; shared/k8s/README.md, "Pod networking").
func podToPod(t testing.TB) {
	t.Helper()
	rule := []string{"FORWARD", "-i", "k8slocal0", "-o", "k8slocal0", "-j", "ACCEPT"}
	if out, err := exec.Command("iptables", append([]string{"-I"}, rule...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("iptables", append([]string{"-D"}, rule...)...).Run() })
}

// gitRemote serves a bare repository over smart HTTP (git http-backend) on
// addr; every request must carry the token as its password. paths lists
// the paths of every request it got.
func gitRemote(t testing.TB, addr net.IP, token string) (url, bare string, paths func() []string) {
	t.Helper()
	base := t.TempDir()
	bare = filepath.Join(base, "app.git")
	work := filepath.Join(base, "seed")
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git(base, "init", "-q", "--bare", "-b", "main", bare)
	git(bare, "config", "http.receivepack", "true")
	os.MkdirAll(filepath.Join(work, ".ralph"), 0o755)
	os.WriteFile(filepath.Join(work, ".ralph", "PROMPT.md"), []byte("Do one task. End with <promise>COMPLETE</promise> when all are done.\n"), 0o644)
	os.WriteFile(filepath.Join(work, "README.md"), []byte("app\n"), 0o644)
	git(base, "init", "-q", "-b", "main", work)
	git(work, "add", "-A")
	git(work, "commit", "-qm", "seed")
	git(work, "push", "-q", bare, "main")

	gitBin, _ := exec.LookPath("git")
	h := &cgi.Handler{Path: gitBin, Args: []string{"http-backend"}, Dir: base,
		Env: []string{"GIT_PROJECT_ROOT=" + base, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=ralph"}}
	l, err := net.Listen("tcp", net.JoinHostPort(addr.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	paths = func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		if _, pw, ok := r.BasicAuth(); !ok || pw != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "token required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String() + "/app.git", bare, paths
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestFleetOnKubernetes submits real Jobs to a real API server and
// kubelet: the pod clones from a git remote through the gate, runs the fake
// agent to COMPLETE and pushes its branch; the objects on the live server
// carry the restricted settings, the namespace refuses a privileged pod,
// the gate refused what the policy does not allow, and a stopped run still
// pushes its work.
// fleetEnv is a namespace of the local cluster ready for ralph fleet: the
// test image imported, a git remote on the pod bridge wanting a token, the
// agent's and git's Secrets, pods allowed to reach each other.
type fleetEnv struct {
	dir, ralph, image, repo, bare, ns, host string
	state, config                           string
	remotePaths                             func() []string
	// api is the agent's API on the pod bridge, which the gate's
	// secret (ralph-gate-secrets: anthropic, anthropic.url) names.
	api     string
	apiKeys func() []string
}

// gateSecretKey is the API key the fleet's gate holds and adds.
const gateSecretKey = "sk-ant-fleet-gate-0123456789"

// keyRecorder is an API that records the x-api-key of each request.
func keyRecorder(t testing.TB, addr net.IP) (hostport string, keys func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	l, err := net.Listen("tcp", net.JoinHostPort(addr.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("x-api-key"))
		mu.Unlock()
		fmt.Fprint(w, "api answered")
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func newFleetEnv(t testing.TB) *fleetEnv {
	t.Helper()
	dir := localCluster(t)
	ralph, fake := build(t)
	e := &fleetEnv{dir: dir, ralph: ralph, image: fleetImage(t, dir, ralph, fake), state: t.TempDir(), config: t.TempDir()}
	host := podBridge(t, dir)
	e.host = host.String()
	podToPod(t)
	const token = "e2e-git-token"
	e.repo, e.bare, e.remotePaths = gitRemote(t, host, token)
	e.ns = "ralph-e2e-" + randHex(3)
	t.Cleanup(func() { kubectl(t, dir, "delete", "namespace", e.ns, "--wait=false") })
	// The namespace exists first only so the Secrets can be made: ralph
	// applies it (restricted) itself when it is missing.
	nsObj, _ := json.Marshal(fleet.Namespace(e.ns))
	apply := exec.Command(filepath.Join(dir, "kubectl"), "apply", "-f", "-")
	apply.Stdin = bytes.NewReader(nsObj)
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("namespace: %v\n%s", err, out)
	}
	for name, val := range map[string]string{"anthropic": "sk-e2e", "git": token} {
		if out, err := kubectl(t, dir, "-n", e.ns, "create", "secret", "generic", name, "--from-literal=token="+val); err != nil {
			t.Fatalf("secret: %v\n%s", err, out)
		}
	}
	e.api, e.apiKeys = keyRecorder(t, host)
	if out, err := kubectl(t, dir, "-n", e.ns, "create", "secret", "generic", fleet.GateSecretsName,
		"--from-literal=anthropic="+gateSecretKey, "--from-literal=anthropic.url=http://"+e.api); err != nil {
		t.Fatalf("secret: %v\n%s", err, out)
	}
	return e
}

// fleet prepares `ralph fleet --kubeconfig … --namespace … ARGS`.
func (e *fleetEnv) fleet(ctx context.Context, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	kube := []string{"--kubeconfig", filepath.Join(e.dir, "kubeconfig"), "--namespace", e.ns}
	cmd := exec.CommandContext(ctx, e.ralph, append(append([]string{"fleet"}, kube...), args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+e.state, "XDG_CONFIG_HOME="+e.config)
	return cmd, &out, &errb
}

// runArgs are the flags of a small test loop.
func (e *fleetEnv) runArgs(cpu, mem string) []string {
	return []string{"run", "--repo", e.repo, "--image", e.image, "-n", "5", "--gate-via", "pod",
		"--gate-secret", "anthropic", "--allow", e.api, "--git-secret", "git", "--cpu", cpu, "--memory", mem, "--disk", "1Gi"}
}

// TestFleetOnKubernetes submits real Jobs to a real API server and
// kubelet: the pod clones from a git remote through the gate, runs the fake
// agent to COMPLETE and pushes its branch; the objects on the live server
// carry the restricted settings, the namespace refuses a privileged pod,
// the gate refused what the policy does not allow, and a stopped run still
// pushes its work.
func TestFleetOnKubernetes(t *testing.T) {
	sandboxtest.SkipShort(t)
	e := newFleetEnv(t)
	dir, ns, bare := e.dir, e.ns, e.bare
	fleetCmd := e.fleet
	// A port nothing allows: the agent's fetch through the gate must fail.
	denied := net.JoinHostPort(e.host, "9")
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	// A Secret that is not there fails the submission, not the pod later.
	typo, _, typoErr := fleetCmd(ctx, "run", "--repo", e.repo, "--image", e.image, "--gate-via", "pod", "--api-key-secret", "anthropc")
	if typo.Run() == nil || typo.ProcessState.ExitCode() != 64 || !strings.Contains(typoErr.String(), "no Secret anthropc in namespace "+ns) {
		t.Errorf("missing Secret: exit %d\n%s", typo.ProcessState.ExitCode(), typoErr)
	}

	run, out, stderr := fleetCmd(ctx, append(e.runArgs("500m", "256Mi"), "-n", "6",
		"--env", "FAKE_PLAN=fetch:http://"+denied+"/,fetch:http://anthropic.secret.invalid/v1/messages,try-read:/proc/*/environ,linger:"+strings.TrimSuffix(e.repo, "/app.git")+"/leak,write:made-in-pod.txt,complete", "--env", "FAKE_RECORD=1",
		"--wait", "--json", "--", "--model", "e2e")...)
	start := time.Now()
	if err := run.Run(); err != nil {
		logs, _ := kubectl(t, dir, "-n", ns, "logs", "-l", fleet.LabelRole+"="+fleet.RoleLoop, "--tail=80")
		gate, _ := kubectl(t, dir, "-n", ns, "logs", "deploy/ralph-gate", "--tail=40")
		t.Fatalf("fleet run --wait: %v\nstdout: %s\nstderr: %s\npod log:\n%s\ngate log:\n%s", err, out, stderr, logs, gate)
	}
	t.Logf("submitted and completed in %s", time.Since(start).Round(time.Millisecond))
	var res []fleet.Status
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res) != 1 || res[0].Result == nil {
		t.Fatalf("fleet run --json: %v: %s", err, out)
	}
	r := res[0]
	if r.Result.Outcome != "complete" || r.Result.Exit != 0 || !r.Result.Pushed || r.Result.Iterations != 6 || r.State != "succeeded" {
		t.Errorf("result %+v state %s", *r.Result, r.State)
	}

	// The branch is in the remote, with the agent's file and its record.
	show := func(path string) string {
		b, err := exec.Command("git", "--git-dir", bare, "show", r.Push+":"+path).CombinedOutput()
		if err != nil {
			t.Errorf("git show %s:%s: %v\n%s", r.Push, path, err, b)
		}
		return string(b)
	}
	if r.Push != "ralph/"+r.ID {
		t.Errorf("branch %q, want ralph/%s", r.Push, r.ID)
	}
	show("made-in-pod.txt")
	argv := show(".fake-agent-argv")
	for _, want := range []string{"ANTHROPIC_API_KEY", "HTTPS_PROXY", `"--model","e2e"`} {
		if !strings.Contains(argv, want) {
			t.Errorf("the agent did not get %s: %s", want, argv)
		}
	}
	if strings.Contains(argv, "RALPH_GIT_TOKEN") {
		t.Errorf("the git token reached the agent: %s", argv)
	}
	netLog := show(".fake-agent-net")
	// A process the agent left behind waited for git to push with the
	// token, to send it to the remote: it must be gone before git runs.
	for _, p := range e.remotePaths() {
		if strings.HasPrefix(p, "/leak/") {
			t.Errorf("a process the agent left behind stole the git token: %s", p)
		}
	}
	if !strings.Contains(netLog, "403") {
		t.Errorf("the gate let through a fetch no rule allows: %s", netLog)
	}
	// The agent asked its API through the gate's route: the API got the
	// key of ralph-gate-secrets, which the pod never held (its Job names
	// no Secret but git's, and carries the placeholder).
	if !strings.Contains(netLog, "status 200 api answered") {
		t.Errorf("the agent's request for its API through the gate's route: %s", netLog)
	}
	if keys := e.apiKeys(); len(keys) == 0 || slices.ContainsFunc(keys, func(k string) bool { return k != gateSecretKey }) {
		t.Errorf("the API got x-api-key %q, want the gate's secret on each request", keys)
	}
	if job, err := kubectl(t, dir, "-n", ns, "get", "job", r.Job, "-o", "json"); err != nil || strings.Contains(job, gateSecretKey) ||
		strings.Contains(job, fleet.GateSecretsName) || !strings.Contains(job, "ralph-secret-placeholder-anthropic") {
		t.Errorf("the loop's Job (%v) holds the key or mounts the gate's secrets, or lacks the placeholder:\n%s", err, job)
	}
	// The agent, same uid as ralph in the pod, reads every process's
	// environment it can: its own (the control) but none with the git
	// token; PID 1 (ralph, which started with it) refuses.
	if strings.Contains(netLog, "HOLDS RALPH_GIT_TOKEN") || !strings.Contains(netLog, "try-read /proc/self/environ: read") ||
		!strings.Contains(netLog, "try-read /proc/1/environ: error") {
		t.Errorf("the agent's view of the pod's environments:\n%s", netLog)
	}
	if head, _ := exec.Command("git", "--git-dir", bare, "log", "-1", "--format=%s", r.Push).Output(); !strings.Contains(string(head), "ralph fleet run "+r.ID+": complete") {
		t.Errorf("last commit %q", head)
	}

	// ls and logs, as a user runs them.
	ls, lsOut, lsErr := fleetCmd(ctx, "ls", "--json")
	if err := ls.Run(); err != nil {
		t.Fatalf("ls: %v\n%s", err, lsErr)
	}
	if !strings.Contains(lsOut.String(), `"id":"`+r.ID+`"`) || !strings.Contains(lsOut.String(), `"outcome":"complete"`) {
		t.Errorf("ls --json: %s", lsOut)
	}
	logs, logOut, logErr := fleetCmd(ctx, "logs", "-f", r.ID)
	if err := logs.Run(); err != nil {
		t.Fatalf("logs: %v\n%s", err, logErr)
	}
	gateLog, _ := kubectl(t, dir, "-n", ns, "logs", "deploy/ralph-gate")
	t.Logf("fleet run stderr:\n%s\npod log:\n%s\ngate log:\n%s", stderr, logOut, gateLog)
	for _, want := range []string{"the pod", "COMPLETE", "ralph fleet: pushed " + r.Push} {
		if !strings.Contains(logOut.String(), want) {
			t.Errorf("no %q in the pod's log:\n%s", want, logOut)
		}
	}

	checkLiveObjects(t, dir, ns, r.Job)

	// A second repository on another port: a rule the gate did not have.
	// The run must not wait for the kubelet's periodic ConfigMap sync
	// (a minute or more) to clone; and it ends BLOCKED, exit 2.
	repo2, _, _ := gitRemote(t, net.ParseIP(e.host), "e2e-git-token")
	start = time.Now()
	blocked, out, stderr := fleetCmd(ctx, "run", "--repo", repo2, "--image", e.image, "-n", "3", "--gate-via", "pod",
		"--api-key-secret", "anthropic", "--git-secret", "git", "--cpu", "500m", "--memory", "256Mi", "--disk", "1Gi",
		"--env", "FAKE_PLAN=blocked:needs a human", "--wait")
	err := blocked.Run()
	if code := blocked.ProcessState.ExitCode(); code != 2 || !strings.Contains(out.String(), "BLOCKED: needs a human") {
		logs, _ := kubectl(t, dir, "-n", ns, "logs", "-l", fleet.LabelRole+"="+fleet.RoleLoop, "--tail=20")
		t.Errorf("second repository: exit %d (%v), want 2:\n%s\n%s\n%s", code, err, out, stderr, logs)
	}
	t.Logf("a run needing a new gate rule ended in %s", time.Since(start).Round(time.Millisecond))

	// ralph fleet policy: a deny beats the allow a run adds, and reaches
	// the gate before the command returns; rm takes both away.
	host2 := strings.TrimSuffix(strings.TrimPrefix(repo2, "http://"), "/app.git")
	if deny, _, denyErr := fleetCmd(ctx, "policy", "deny", "network", host2); deny.Run() != nil {
		t.Fatalf("policy deny: %s", denyErr)
	}
	denied2, out, _ := fleetCmd(ctx, "run", "--repo", repo2, "--image", e.image, "-n", "3", "--gate-via", "pod",
		"--git-secret", "git", "--cpu", "500m", "--memory", "256Mi", "--disk", "1Gi", "--env", "FAKE_PLAN=complete", "--wait", "--json")
	denied2.Run()
	if code := denied2.ProcessState.ExitCode(); code != 70 || !strings.Contains(out.String(), "clone: ") || !strings.Contains(out.String(), "403") {
		t.Errorf("a run whose remote is denied: exit %d, want 70 (clone refused):\n%s", code, out)
	}
	pls, plsOut, _ := fleetCmd(ctx, "policy", "ls", "--json")
	pls.Run()
	if !strings.Contains(plsOut.String(), `"action":"deny","pattern":"`+host2+`"`) {
		t.Errorf("policy ls: %s", plsOut)
	}
	if rmp, _, rmErr := fleetCmd(ctx, "policy", "rm", "network", host2); rmp.Run() != nil {
		t.Fatalf("policy rm: %s", rmErr)
	}
	pls, plsOut, _ = fleetCmd(ctx, "policy", "ls", "--json")
	pls.Run()
	if strings.Contains(plsOut.String(), host2) {
		t.Errorf("after rm, policy ls: %s", plsOut)
	}

	// Edits at the same moment: the gate may load only the last one, which
	// holds the others' rules; each command must see that and return.
	var edits sync.WaitGroup
	editErr := make([]string, 4)
	for i := range editErr {
		edits.Go(func() {
			c, _, stderr := fleetCmd(ctx, "policy", "allow", "network", fmt.Sprintf("concurrent-%d.example", i))
			if c.Run() != nil {
				editErr[i] = stderr.String()
			}
		})
	}
	edits.Wait()
	for i, msg := range editErr {
		if msg != "" {
			t.Errorf("concurrent policy allow %d: %s", i, msg)
		}
	}
	pls, plsOut, _ = fleetCmd(ctx, "policy", "ls", "--json")
	pls.Run()
	for i := range editErr {
		if !strings.Contains(plsOut.String(), fmt.Sprintf("concurrent-%d.example", i)) {
			t.Errorf("concurrent edit %d lost: %s", i, plsOut)
		}
	}

	// doctor tells the truth about this cluster: restricted namespace, a
	// ready gate, no RuntimeClass, and a network plugin (the bridge) that
	// does not enforce NetworkPolicy, which fails the check (exit 1).
	doc, docOut, docErr := fleetCmd(ctx, "doctor", "--probe", "--json")
	err = doc.Run()
	var checks []fleet.Check
	json.Unmarshal(docOut.Bytes(), &checks)
	got := map[string]fleet.Check{}
	for _, c := range checks {
		got[c.Name] = c
	}
	if doc.ProcessState.ExitCode() != 1 || got["namespace"].Status != "ok" || got["gate"].Status != "ok" ||
		got["runtime classes"].Status != "warn" || got["network policy"].Status != "fail" ||
		!strings.Contains(got["network policy"].Detail, "NOT enforced") {
		t.Errorf("doctor --probe: %v\n%s\n%s", err, docOut, docErr)
	}

	// The namespace ralph made enforces the restricted standard: the API
	// server refuses a privileged pod.
	priv := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"escape"},"spec":{"containers":[{"name":"c","image":"busybox:local","securityContext":{"privileged":true}}]}}`
	create := exec.Command(filepath.Join(dir, "kubectl"), "-n", ns, "create", "-f", "-")
	create.Stdin = strings.NewReader(priv)
	if b, err := create.CombinedOutput(); err == nil || !strings.Contains(string(b), "violates PodSecurity") {
		t.Errorf("a privileged pod was not refused: %v\n%s", err, b)
	}

	// Stop mid-run: the pod gets SIGTERM, commits and pushes the work.
	stopRun, out, stderr := fleetCmd(ctx, append(e.runArgs("500m", "256Mi"), "--env", "FAKE_PLAN=write:half-done.txt,sleep:300")...)
	if err := stopRun.Run(); err != nil {
		t.Fatalf("fleet run: %v\n%s", err, stderr)
	}
	id := strings.TrimSpace(out.String())
	waitLog(ctx, t, dir, ns, id, "iteration 2 of 5")
	stop, _, stopErr := fleetCmd(ctx, "stop", id)
	if err := stop.Run(); err != nil {
		t.Fatalf("stop: %v\n%s", err, stopErr)
	}
	for {
		b, err := exec.Command("git", "--git-dir", bare, "show", "ralph/"+id+":half-done.txt").CombinedOutput()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the stopped run did not push its work: %s", b)
		}
		time.Sleep(time.Second)
	}
	rm, _, rmErr := fleetCmd(ctx, "rm", id)
	if err := rm.Run(); err != nil {
		t.Fatalf("rm: %v\n%s", err, rmErr)
	}
	lsText, lsTextOut, _ := fleetCmd(ctx, "ls")
	lsText.Run()
	t.Logf("ralph fleet ls:\n%s", lsTextOut)
	if strings.Contains(lsTextOut.String(), id) || !strings.Contains(lsTextOut.String(), r.ID) {
		t.Errorf("after rm %s, ls shows:\n%s", id, lsTextOut)
	}

	// The default route to the gate is its Service's ClusterIP (this
	// cluster has no kube-proxy to carry it, so the run is only submitted
	// and its Job read back).
	// It names another image: the gate, which the running loops use,
	// keeps its own (no rollout).
	gateGen, _ := kubectl(t, dir, "-n", ns, "get", "deploy", "ralph-gate", "-o", "jsonpath={.metadata.generation}")
	svcRun, out, stderr := fleetCmd(ctx, "run", "--repo", e.repo, "--image", "ralph-other-agent:1", "--cpu", "100m", "--memory", "64Mi", "--disk", "64Mi")
	if err := svcRun.Run(); err != nil {
		t.Fatalf("fleet run: %v\n%s", err, stderr)
	}
	id = strings.TrimSpace(out.String())
	clusterIP, _ := kubectl(t, dir, "-n", ns, "get", "service", "ralph-gate", "-o", "jsonpath={.spec.clusterIP}")
	proxy, _ := kubectl(t, dir, "-n", ns, "get", "job", fleet.JobName(id), "-o", `jsonpath={.spec.template.spec.containers[0].env[?(@.name=="HTTPS_PROXY")].value}`)
	if clusterIP == "" || proxy != "http://"+clusterIP+":3128" {
		t.Errorf("HTTPS_PROXY %q, want the gate Service's ClusterIP %q", proxy, clusterIP)
	}
	gateImage, _ := kubectl(t, dir, "-n", ns, "get", "deploy", "ralph-gate", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}")
	if gateImage != e.image+" "+gateGen {
		t.Errorf("after a run with another image the gate is %q, want %q (unchanged)", gateImage, e.image+" "+gateGen)
	}
	if rm, _, rmErr := fleetCmd(ctx, "rm", id); rm.Run() != nil {
		t.Errorf("rm: %s", rmErr)
	}
}

// waitLog waits until the run's pod log holds s.
func waitLog(ctx context.Context, t *testing.T, dir, ns, id, s string) {
	t.Helper()
	last := ""
	for ctx.Err() == nil {
		last, _ = kubectl(t, dir, "-n", ns, "logs", "-l", fleet.LabelRun+"="+id)
		if strings.Contains(last, s) {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("no %q in the log of %s:\n%s", s, id, last)
}

// checkLiveObjects reads back from the API server what ralph applied.
func checkLiveObjects(t *testing.T, dir, ns, job string) {
	t.Helper()
	get := func(args ...string) string {
		out, err := kubectl(t, dir, append([]string{"-n", ns, "get", "-o", "json"}, args...)...)
		if err != nil {
			t.Fatalf("kubectl get %v: %v\n%s", args, err, out)
		}
		return out
	}
	var j struct {
		Spec struct {
			BackoffLimit          int   `json:"backoffLimit"`
			ActiveDeadlineSeconds int64 `json:"activeDeadlineSeconds"`
			TTL                   int   `json:"ttlSecondsAfterFinished"`
			Template              struct {
				Spec struct {
					AutomountServiceAccountToken bool `json:"automountServiceAccountToken"`
					SecurityContext              struct {
						RunAsNonRoot   bool `json:"runAsNonRoot"`
						SeccompProfile struct{ Type string }
					} `json:"securityContext"`
					Containers []struct {
						SecurityContext struct {
							AllowPrivilegeEscalation bool `json:"allowPrivilegeEscalation"`
							ReadOnlyRootFilesystem   bool `json:"readOnlyRootFilesystem"`
							Capabilities             struct{ Drop []string }
						} `json:"securityContext"`
						Resources struct{ Limits, Requests map[string]string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(get("job", job)), &j); err != nil {
		t.Fatal(err)
	}
	p := j.Spec.Template.Spec
	c := p.Containers[0]
	if j.Spec.BackoffLimit != 0 || j.Spec.ActiveDeadlineSeconds == 0 || j.Spec.TTL == 0 || p.AutomountServiceAccountToken ||
		!p.SecurityContext.RunAsNonRoot || p.SecurityContext.SeccompProfile.Type != "RuntimeDefault" ||
		c.SecurityContext.AllowPrivilegeEscalation || !c.SecurityContext.ReadOnlyRootFilesystem ||
		strings.Join(c.SecurityContext.Capabilities.Drop, ",") != "ALL" || c.Resources.Limits["memory"] != "256Mi" || c.Resources.Requests["memory"] != "256Mi" {
		t.Errorf("live job: %+v", j)
	}
	np := get("networkpolicy", "ralph-loops")
	for _, want := range []string{`"Egress"`, `"Ingress"`, `"ralph.dev/role": "gate"`, `"port": 3128`} {
		if !strings.Contains(np, want) {
			t.Errorf("live loop network policy lacks %s:\n%s", want, np)
		}
	}
	var live struct {
		Spec struct {
			Egress []struct {
				Ports []struct{ Port any }
				To    []map[string]any
			}
		}
	}
	json.Unmarshal([]byte(np), &live)
	if e := live.Spec.Egress; len(e) != 1 || len(e[0].Ports) != 1 || fmt.Sprint(e[0].Ports[0].Port) != "3128" || len(e[0].To) != 1 {
		t.Errorf("the loop network policy allows more than TCP 3128 to the gate (DNS?): %+v", e)
	}
	if nsj, _ := kubectl(t, dir, "get", "namespace", ns, "-o", "jsonpath={.metadata.labels}"); !strings.Contains(nsj, `"pod-security.kubernetes.io/enforce":"restricted"`) {
		t.Errorf("namespace labels %s", nsj)
	}
}

// BenchmarkFleet100 submits 100 loops and reports the seconds until all
// their pods run, against 100 raw Jobs of the same pod spec running
// `sleep` (no ralph, no clone) measured in the same run, and the objects
// made per loop. On the local single-node cluster:
//
//	K8S_LOCAL_DIR=/tmp/k8s go test ./cmd/ralph -run '^$' -bench Fleet100 -benchtime 1x
func BenchmarkFleet100(b *testing.B) {
	const n = 100
	e := newFleetEnv(b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// The gate once, as any namespace's first run does.
	warm, _, stderr := e.fleet(ctx, append(e.runArgs("10m", "96Mi"), "--env", "FAKE_PLAN=complete", "--wait")...)
	if err := warm.Run(); err != nil {
		b.Fatalf("warm-up run: %v\n%s", err, stderr)
	}
	before := objectCount(b, e)

	// Raw: the same pod spec, running sleep, created by one kubectl call.
	job, err := fleet.Job(e.ns, fleet.Run{ID: "raw", Image: e.image, CPU: "10m", Memory: "96Mi", Disk: "1Gi",
		Deadline: time.Hour, TTL: time.Hour, UID: 1000, Gate: "127.0.0.1:1"})
	if err != nil {
		b.Fatal(err)
	}
	job.Spec.Template.Spec.Containers[0].Command = []string{"sleep", "600"}
	job.Spec.Template.Spec.Containers[0].Args = nil
	job.Labels[fleet.LabelRole], job.Spec.Template.Labels[fleet.LabelRole] = "raw", "raw"
	var items []any
	for i := range n {
		j := *job
		j.ObjectMeta.Name = fmt.Sprintf("raw-%d", i)
		items = append(items, j)
	}
	list, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	b.ResetTimer()
	start := time.Now()
	create := exec.Command(filepath.Join(e.dir, "kubectl"), "-n", e.ns, "create", "-f", "-")
	create.Stdin = bytes.NewReader(list)
	if out, err := create.CombinedOutput(); err != nil {
		b.Fatalf("raw jobs: %v\n%s", err, out)
	}
	waitRunning(ctx, b, e, fleet.LabelRole+"=raw", n)
	raw := time.Since(start)
	b.StopTimer()
	kubectl(b, e.dir, "-n", e.ns, "delete", "jobs", "-l", fleet.LabelRole+"=raw", "--wait=true", "--cascade=foreground", "--timeout=5m")
	waitRunning(ctx, b, e, fleet.LabelRole+"=raw", 0)

	b.StartTimer()
	start = time.Now()
	sub, _, stderr := e.fleet(ctx, append(e.runArgs("10m", "96Mi"), "--count", fmt.Sprint(n), "--env", "FAKE_PLAN=sleep:600")...)
	if err := sub.Run(); err != nil {
		b.Fatalf("fleet run --count %d: %v\n%s", n, err, stderr)
	}
	submitted := time.Since(start)
	waitRunning(ctx, b, e, fleet.LabelRole+"="+fleet.RoleLoop, n)
	took := time.Since(start)
	b.StopTimer()
	per := float64(objectCount(b, e)-before) / n
	b.ReportMetric(submitted.Seconds(), "s-submit")
	b.ReportMetric(took.Seconds(), "s-all-running")
	b.ReportMetric(raw.Seconds(), "s-raw-all-running")
	b.ReportMetric(took.Seconds()/raw.Seconds(), "x-raw")
	b.ReportMetric(per, "objects/loop")
	kubectl(b, e.dir, "-n", e.ns, "delete", "jobs", "--all", "--wait=false")
}

// waitRunning polls until exactly want pods of selector run (want 0:
// until none is left at all).
func waitRunning(ctx context.Context, b testing.TB, e *fleetEnv, selector string, want int) {
	b.Helper()
	last := ""
	for ctx.Err() == nil {
		out, err := kubectl(b, e.dir, "-n", e.ns, "get", "pods", "-l", selector, "-o", "jsonpath={range .items[*]}{.status.phase} {end}")
		if err == nil {
			last = out
			phases := strings.Fields(out)
			running := strings.Count(out, "Running")
			if (want == 0 && len(phases) == 0) || (want > 0 && running == want) {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	b.Fatalf("pods %s: want %d running, have: %s", selector, want, last)
}

// objectCount counts the namespace's objects of the kinds ralph makes and
// the controllers derive from them.
func objectCount(b testing.TB, e *fleetEnv) int {
	b.Helper()
	out, err := kubectl(b, e.dir, "-n", e.ns, "get", "jobs,pods,deployments,replicasets,services,configmaps,networkpolicies,secrets", "-o", "name")
	if err != nil {
		b.Fatalf("count objects: %v\n%s", err, out)
	}
	return len(strings.Fields(out))
}
