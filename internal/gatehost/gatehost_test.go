package gatehost

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/netgate/policy"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// brokenListener fails for good after its first Accept, as a listener
// whose socket was torn down does.
type brokenListener struct{ net.Listener }

func (brokenListener) Accept() (net.Conn, error) {
	return nil, errors.New("accept unix gate.sock: use of a broken listener")
}

func TestDeadGateIsNoticed(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "g.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	logf, err := netgate.OpenLog(filepath.Join(t.TempDir(), "log.jsonl"), 0)
	if err != nil {
		t.Fatal(err)
	}
	g := &netgate.Gate{Policy: func() *policy.Policy { return policy.Compile(nil) }, Log: logf}
	rg := serveGate(context.Background(), g, brokenListener{l}, logf, "")
	select {
	case err, ok := <-rg.Died():
		if !ok || err == nil {
			t.Fatalf("Died: %v, %v; want the gate's error", err, ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a gate that stopped serving was not noticed")
	}
	rg.Close()

	// A gate closed by its run is not a death.
	rg = serveGate(context.Background(), g, l, logf, "")
	go rg.Close()
	if err, ok := <-rg.Died(); ok {
		t.Fatalf("Died after Close: %v", err)
	}
}

type ownNet struct{ sandboxtest.Fake }

func (*ownNet) Network() string { return "its own" }

// TestBackendsDescribeTheirNetwork: the CLI asks a backend how it reaches
// the network; a backend that uses no gate gets none, and says so.
func TestBackendsDescribeTheirNetwork(t *testing.T) {
	spec := sandbox.Spec{Name: "x"}
	for _, b := range []sandbox.Backend{&sandboxtest.Fake{}, &ownNet{}} {
		g, err := Host{}.Attach(context.Background(), b, &spec, nil)
		if g != nil || err != nil || spec.GateDir != "" {
			t.Errorf("%T: attachGate = %v, %v, GateDir %q; want no gate", b, g, err, spec.GateDir)
		}
	}
	if got := (Host{}).NetworkLine(&ownNet{}, "x", nil); got != "its own" {
		t.Errorf("networkLine(own network) = %q", got)
	}
	if got := (Host{}).NetworkLine(&sandboxtest.Fake{}, "x", nil); !strings.Contains(got, "unrestricted") {
		t.Errorf("networkLine(no gate, no network of its own) = %q, want unrestricted", got)
	}
}

// TestGateSocketFitsAnyPath: a long home folder and a long project name
// (issue 16: bind: invalid argument) still give a socket path that fits.
func TestGateSocketFitsAnyPath(t *testing.T) {
	h := Host{Dir: "/home/alice-with-a-rather-long-name/.local/state/ralph/gates"}
	long := "ralph-claude-customer-portal-backend-service-api-v2-0123abcd"
	for _, name := range []string{"ralph-claude-app-12345678", long} {
		sock := filepath.Join(h.GateDir(name), "mnt", "gate.sock")
		if len(sock) > maxSocketPath {
			t.Errorf("%s: socket path of %d bytes: %s", name, len(sock), sock)
		}
		if h.GateDir(name) != h.GateDir(name) {
			t.Errorf("%s: gate folder not deterministic", name)
		}
	}
	if filepath.Base(h.GateDir("ralph-claude-app-12345678")) != "ralph-claude-app-12345678" {
		t.Errorf("a short name should keep its readable folder: %s", h.GateDir("ralph-claude-app-12345678"))
	}
}

// A state folder so long that even the hashed name does not fit (a test's
// temporary folder, a deep home): the socket moves to a short folder of
// root's, or of the user's runtime folder.
func TestGateSocketMovesOutOfALongStateFolder(t *testing.T) {
	h := Host{Dir: "/tmp/" + strings.Repeat("a-very-long-folder-name/", 5) + "ralph/gates"}
	name := "ralph-claude-app-12345678"
	if os.Geteuid() != 0 {
		t.Setenv("XDG_RUNTIME_DIR", "/run/user/4242")
	}
	mnt := h.MountDir(name, nil)
	if sock := filepath.Join(mnt, "gate.sock"); len(sock) > maxSocketPath {
		t.Fatalf("socket path of %d bytes: %s", len(sock), sock)
	}
	if os.Geteuid() == 0 && !strings.HasPrefix(mnt, runGates+"/") {
		t.Errorf("as root the socket goes under %s, got %s", runGates, mnt)
	}
	if mnt != h.MountDir(name, nil) {
		t.Error("not deterministic")
	}
	short := Host{Dir: "/tmp/g"}
	if got := short.MountDir(name, nil); got != filepath.Join("/tmp/g", name, "mnt") {
		t.Errorf("a short state folder keeps its own mount folder: %s", got)
	}
}

// TestInstallOncePerBuild: the gate folder's copy of ralph is made once
// for a build: the next run leaves it alone; a copy changed or removed
// since, or another build of ralph, is installed again.
func TestInstallOncePerBuild(t *testing.T) {
	static := "/bin/busybox" // busybox-static: a static binary to stand for ralph
	if !sandbox.Static(static) {
		t.Skip("no static /bin/busybox here")
	}
	dir := t.TempDir()
	exe, dst, stamp := filepath.Join(dir, "ralph"), filepath.Join(dir, "mnt-ralph"), filepath.Join(dir, "stamp")
	data, _ := os.ReadFile(static)
	os.WriteFile(exe, data, 0o755)
	if err := install(exe, dst, stamp); err != nil {
		t.Fatal(err)
	}
	first, _ := os.Stat(dst)
	if err := install(exe, dst, stamp); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Stat(dst); !os.SameFile(first, again) {
		t.Error("the second run copied ralph again")
	}
	// Changed in place (same size): copied again, and right.
	f, _ := os.OpenFile(dst, os.O_WRONLY, 0)
	f.WriteAt([]byte("X"), 100)
	f.Close()
	if err := install(exe, dst, stamp); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Error("a changed copy was kept")
	}
	// Another build of ralph at the same path: copied.
	cur, _ := os.Stat(dst)
	os.Remove(exe)
	os.WriteFile(exe, append(data, 0), 0o755)
	if err := install(exe, dst, stamp); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Stat(dst); os.SameFile(cur, again) || again.Size() != int64(len(data)+1) {
		t.Error("a new build of ralph was not installed")
	}
	os.Remove(dst)
	if err := install(exe, dst, stamp); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dst); err != nil {
		t.Errorf("a removed copy was not installed again: %v", err)
	}
}
