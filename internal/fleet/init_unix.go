//go:build unix

package fleet

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// InitEnv marks the child of Init, so it does not start another.
const InitEnv = "RALPH_FLEET_INIT"

// Init is PID 1 of a loop's pod: nothing in Kubernetes reaps the
// processes an agent leaves behind (its tools' background jobs), and their
// zombies would pile up against the pod's pids limit. It runs argv (ralph
// again, with InitEnv set) as its only child, passes on every signal the
// kubelet sends, reaps every process that ends in the pod, and returns the
// child's exit code (128+N for a signal).
func Init(argv []string, stderr io.Writer) int {
	hideSelf()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), InitEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "ralph fleet: init: %v\n", err)
		return 70
	}
	child := cmd.Process.Pid
	go func() {
		for s := range sigs {
			syscall.Kill(child, s.(syscall.Signal))
		}
	}()
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			fmt.Fprintf(stderr, "ralph fleet: init: wait: %v\n", err)
			return 70
		}
		if pid != child {
			continue // an orphan, reaped
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}
