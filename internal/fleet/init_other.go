//go:build !unix

package fleet

import (
	"fmt"
	"io"
)

// InitEnv marks the child of Init, so it does not start another.
const InitEnv = "RALPH_FLEET_INIT"

// Init is PID 1 of a loop's pod, which is Linux.
func Init(argv []string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "ralph fleet: init runs as PID 1 of a Linux pod only")
	return 70
}
