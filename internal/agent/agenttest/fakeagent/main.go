// Command fakeagent is the fake agent CLI of ralph's end-to-end tests (see
// agenttest.FakeMain); the tests build it statically to put it in images.
package main

import (
	"os"

	"github.com/ralphloop/ralph/internal/agent/agenttest"
)

func main() { os.Exit(agenttest.FakeMain()) }
