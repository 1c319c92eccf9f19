//go:build linux

package fleet

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestInitReapsOrphans: as a subreaper (what PID 1 is in a pod), Init
// returns its child's exit code and leaves no zombie of the processes the
// child abandoned.
func TestInitReapsOrphans(t *testing.T) {
	if os.Getenv("FLEET_INIT_TEST") == "1" {
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		// A subshell of the child leaves three background processes and
		// exits: they are reparented to Init and end 0.2 s later. A second
		// on, the child counts the zombies Init holds, and exits 10 + that.
		script := `sh -c 'for i in 1 2 3; do sleep 0.2 & done'; sleep 1; exit $((10 + $(ps -o stat= --ppid ` + strconv.Itoa(os.Getpid()) + ` | grep -c Z)))`
		os.Stdout.WriteString(strconv.Itoa(Init([]string{"sh", "-c", script}, os.Stderr)))
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=TestInitReapsOrphans")
	cmd.Env = append(os.Environ(), "FLEET_INIT_TEST=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	// 10: the child's code passed on, no zombie. Without the reaping
	// loop the three sleeps stay <defunct> (13).
	if got := strings.TrimSpace(out.String()); got != "10" {
		t.Errorf("Init returned %q, want 10 (the child's exit code, with no zombie left)", got)
	}
}
