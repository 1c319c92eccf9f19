package sandboxtest

import (
	"context"
	"os/exec"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox"
)

// TestContractFake: the loop's tests rely on Fake behaving as a real
// backend does; it passes the same contract.
func TestContractFake(t *testing.T) {
	f := &Fake{Run: func(ctx context.Context, cmd sandbox.Cmd) int {
		c := exec.CommandContext(ctx, cmd.Argv[0], cmd.Argv[1:]...)
		c.Env = cmd.EnvList()
		c.Stdout, c.Stderr = cmd.Stdout, cmd.Stderr
		c.Run()
		if c.ProcessState == nil {
			return -1
		}
		return c.ProcessState.ExitCode()
	}}
	Contract(t, ContractHarness{Backend: f})
}
