package selftest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ralphloop/ralph/internal/sandbox"
)

// Neighbour is where a second sandbox of the same backend listens: on
// its loopback, on an abstract Unix socket and on a socket file in its
// /tmp. Each is a way one sandbox could reach another (or the host's
// services, for a backend that shares them).
type Neighbour struct {
	TCP      string `json:"tcp"`
	Abstract string `json:"abstract"`
	Path     string `json:"path"`
}

func neighbourAt(port int, mark string) Neighbour {
	return Neighbour{
		TCP:      fmt.Sprintf("127.0.0.1:%d", port),
		Abstract: "@ralph-selftest-" + mark,
		Path:     "/tmp/ralph-selftest-" + mark + ".sock",
	}
}

// listen is the neighbour's side: "listen PORT MARK". It prints
// "listening" once every listener is up and "hit KIND" for each
// connection, until it is killed.
func listen(args []string) error {
	if len(args) != 2 {
		return errors.New("listen PORT MARK")
	}
	var port int
	fmt.Sscan(args[0], &port)
	n := neighbourAt(port, args[1])
	var ls []net.Listener
	for _, a := range [][2]string{{"tcp4", n.TCP}, {"unix", n.Abstract}, {"unix", n.Path}} {
		l, err := net.Listen(a[0], a[1])
		if err != nil {
			return fmt.Errorf("listen %s %s: %w", a[0], a[1], err)
		}
		defer l.Close()
		ls = append(ls, l)
	}
	var mu sync.Mutex
	for _, l := range ls {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
				mu.Lock()
				fmt.Println("hit", l.Addr().String())
				mu.Unlock()
			}
		}()
	}
	mu.Lock()
	fmt.Println("listening")
	mu.Unlock()
	time.Sleep(30 * time.Minute)
	return nil
}

// reachNeighbour is the probe's side.
func reachNeighbour(n Neighbour, f *finding) {
	f.try("TCP to a neighbour sandbox's loopback listener "+n.TCP, dial("tcp", n.TCP), "connected")
	f.try("the neighbour's abstract socket "+n.Abstract, dial("unix", n.Abstract), "connected")
	f.try("the neighbour's socket file "+n.Path, dial("unix", n.Path), "connected")
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// neighbour is a second sandbox of the backend under test, started as a
// loop would start it, with listeners the first must not reach.
type neighbour struct {
	addr   Neighbour
	out    syncBuffer
	cancel context.CancelFunc
	done   chan struct{}
	stop   []func()
}

// startNeighbour starts the neighbour in root/neighbour and waits until
// it listens.
func startNeighbour(ctx context.Context, t Target, root, mark string) (*neighbour, error) {
	proj := filepath.Join(root, "neighbour")
	if err := os.MkdirAll(proj, 0o755); err != nil {
		return nil, err
	}
	if os.Getuid() == 0 {
		os.Chown(proj, 1000, 1000)
	}
	// A free port on the host: the neighbour of a backend that shares
	// the host's network listens in the host's namespace.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	nb := &neighbour{addr: neighbourAt(port, mark), done: make(chan struct{})}
	spec := t.spec(sandbox.Name("selftest", proj), proj)
	helperBin, _ := os.Executable()
	if t.Gate != nil {
		mount, stop, err := t.Gate(ctx, spec)
		if err != nil {
			return nil, err
		}
		nb.stop = append(nb.stop, stop)
		spec.GateDir, helperBin = mount, "/.ralph/ralph"
	}
	if _, err := t.Backend.Ensure(ctx, spec); err != nil {
		nb.close()
		return nil, fmt.Errorf("selftest: the neighbour sandbox: %w", err)
	}
	nb.stop = append(nb.stop, func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		t.Backend.Stop(cctx, spec.Name)
		t.Backend.Remove(cctx, spec.Name, true)
	})
	ectx, cancel := context.WithCancel(ctx)
	nb.cancel = cancel
	var stderr syncBuffer
	go func() {
		defer close(nb.done)
		t.Backend.Exec(ectx, spec.Name, sandbox.Cmd{Argv: []string{helperBin, "sandbox-helper", "attack", "listen", fmt.Sprint(port), mark},
			Stdout: &nb.out, Stderr: &stderr})
	}()
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(nb.out.String(), "listening") {
		select {
		case <-nb.done:
			nb.close()
			return nil, fmt.Errorf("selftest: the neighbour sandbox did not listen: %s", strings.TrimSpace(stderr.String()))
		case <-deadline:
			nb.close()
			return nil, errors.New("selftest: the neighbour sandbox did not listen within 2 minutes")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nb, nil
}

// hits ends the neighbour's listener and counts what reached it.
func (nb *neighbour) hits() int64 {
	nb.cancel()
	select {
	case <-nb.done:
	case <-time.After(30 * time.Second):
	}
	return int64(strings.Count(nb.out.String(), "hit "))
}

func (nb *neighbour) close() {
	if nb.cancel != nil {
		nb.cancel()
	}
	for i := len(nb.stop) - 1; i >= 0; i-- {
		nb.stop[i]()
	}
	os.Remove(nb.addr.Path) // on a backend that shares the host's /tmp
}
