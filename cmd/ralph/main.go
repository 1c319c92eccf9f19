// Command ralph runs a coding agent in a loop inside a sandbox.
package main

import (
	"os"

	"github.com/ralphloop/ralph/internal/cli"
	"github.com/ralphloop/ralph/internal/helper"
)

func main() {
	// Inside a sandbox or a microVM (its init and exec wrapper), ralph
	// is the helper that ralph-helper is alone.
	if helper.Handles(os.Args) {
		os.Exit(helper.Main(os.Args))
	}
	os.Exit(cli.Main())
}
