// Package helper is the part of ralph that runs inside a sandbox or a
// microVM: the gate's forwarder, the exec wrapper and its kill, gVisor's
// pids limit, bwrap's inside, the microVM's init and the selftest's
// probe. ralph runs it for `ralph sandbox-helper ...`; cmd/ralph-helper
// is the same code without the rest of ralph (7 MB instead of 32, no
// client-go, no cobra), which ralph puts in sandboxes when it finds one
// of its own build beside it (Find).
package helper

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/sandbox/bwrap"
	"github.com/ralphloop/ralph/internal/sandbox/container"
	"github.com/ralphloop/ralph/internal/sandbox/microvm"
	"github.com/ralphloop/ralph/internal/selftest"
)

// Handles reports whether args (a process's os.Args) are the helper's:
// the microVM's init, or `sandbox-helper SUB` for a SUB run inside a
// sandbox (cgexec, the host side of bwrap's exec, stays ralph's).
func Handles(args []string) bool {
	if microvm.IsGuest(args) {
		return true
	}
	return len(args) > 2 && args[1] == "sandbox-helper" && args[2] != "cgexec"
}

// Main runs the helper with args (os.Args) and returns the exit status.
func Main(args []string) int {
	if microvm.IsGuest(args) {
		return microvm.GuestMain(args)
	}
	if len(args) > 1 && args[1] == "sandbox-helper" {
		args = args[1:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "ralph-helper: the part of ralph that runs inside its sandboxes; ralph runs it, not you")
		return 64
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, args[1], args[2:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "ralph sandbox-helper %s: %v\n", args[1], err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func run(ctx context.Context, sub string, args []string) (int, error) {
	fs := flag.NewFlagSet(sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	switch sub {
	case "forward":
		listen := fs.String("listen", "127.0.0.1:3128", "loopback address for HTTP_PROXY")
		socket := fs.String("socket", "/.ralph/gate.sock", "the gate's Unix socket")
		wait := fs.Duration("wait", 0, "how long a connection waits for the socket to appear (a relay starting)")
		if err := parse(fs, args, 0, 0); err != nil {
			return 64, err
		}
		l, err := net.Listen("tcp", *listen)
		if err != nil {
			return 1, err
		}
		return 0, netgate.Carry(ctx, l, netgate.UnixDialer(*socket, *wait))
	case "relay": // relay --socket PATH --to HOST:PORT, the token in RALPH_GATE_TOKEN
		socket := fs.String("socket", "/.ralph-gate/gate.sock", "the Unix socket the sandbox's forwarder dials")
		to := fs.String("to", "", "the gate's TCP address")
		if err := parse(fs, args, 0, 0); err != nil {
			return 64, err
		}
		token := os.Getenv(netgate.TokenEnv)
		os.Unsetenv(netgate.TokenEnv)
		if *to == "" || token == "" {
			return 64, fmt.Errorf("relay: want --to and the token in %s", netgate.TokenEnv)
		}
		os.Remove(*socket)
		l, err := net.Listen("unix", *socket)
		if err != nil {
			return 1, err
		}
		// The sandbox runs as another uid; this folder is shared with it
		// alone, read-only on its side.
		os.Chmod(*socket, 0o666)
		return 0, netgate.Carry(ctx, l, func(ctx context.Context) (net.Conn, error) {
			return netgate.DialToken(ctx, *to, token)
		})
	case "exec", "exec-reap": // exec PIDFILE -- ARGV...: record the group, become ARGV; exec-reap: run it, then end what it left
		if len(args) < 2 || len(dashed(args[1:])) == 0 {
			return 64, fmt.Errorf("usage: %s PIDFILE -- ARGV...", sub)
		}
		code, err := 1, error(nil)
		if sub == "exec" {
			err = container.ExecHelper(args[0], dashed(args[1:])) // returns only on failure
		} else {
			code, err = container.ExecReap(args[0], dashed(args[1:]))
		}
		if errors.Is(err, exec.ErrNotFound) {
			return 127, nil // the shell's "command not found", quietly
		}
		return code, err
	case "kill": // kill PIDFILE [EXEC-ID]
		if len(args) < 1 || len(args) > 2 {
			return 64, errors.New("usage: kill PIDFILE [EXEC-ID]")
		}
		id := ""
		if len(args) == 2 {
			id = args[1]
		}
		container.KillHelper(args[0], id)
		return 0, nil
	case "pids-max":
		n, err := strconv.Atoi(firstOf(args))
		if len(args) != 1 || err != nil || n < 1 {
			return 64, fmt.Errorf("pids-max: %q is not a positive number", firstOf(args))
		}
		return 0, container.SetGuestPids(n)
	case "run": // run [flags] -- ARGV...: bwrap's inside
		listen := fs.String("listen", "127.0.0.1:3128", "")
		socket := fs.String("socket", "/.ralph/gate.sock", "")
		workdir := fs.String("workdir", "/work", "the workspace inside")
		lock := fs.Bool("landlock", false, "restrict the command's file access with Landlock")
		if err := fs.Parse(args); err != nil {
			return 64, err
		}
		argv := fs.Args()
		if len(argv) == 0 {
			return 64, errors.New("usage: run [flags] -- ARGV...")
		}
		return bwrap.RunForward(ctx, *listen, *socket, *workdir, *lock, argv)
	case "probe": // probe CONFIG: the selftest's battery, results as JSON lines
		if len(args) != 1 {
			return 64, errors.New("usage: probe CONFIG")
		}
		var cfg selftest.ProbeConfig
		if err := json.Unmarshal([]byte(args[0]), &cfg); err != nil {
			return 64, err
		}
		enc := json.NewEncoder(os.Stdout)
		selftest.Probe(cfg, func(r selftest.Result) { enc.Encode(r) })
		return 0, nil
	case "attack": // attack KIND [ARG...]: one attack, in a child process
		if len(args) < 1 {
			return 64, errors.New("usage: attack KIND [ARG]")
		}
		return 0, selftest.Attack(args)
	}
	return 64, fmt.Errorf("unknown helper command %q", sub)
}

// parse parses flags and wants between min and max positional arguments.
func parse(fs *flag.FlagSet, args []string, min, max int) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if n := fs.NArg(); n < min || n > max {
		return fmt.Errorf("want %d to %d arguments, got %d", min, max, n)
	}
	return nil
}

// dashed is argv after its first "--" (as cobra gave it), or argv.
func dashed(argv []string) []string {
	if len(argv) > 0 && argv[0] == "--" {
		return argv[1:]
	}
	return argv
}

func firstOf(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
