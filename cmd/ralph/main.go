// Command ralph runs a coding agent in a loop inside a sandbox.
package main

import (
	"os"

	"github.com/ralphloop/ralph/internal/cli"
	"github.com/ralphloop/ralph/internal/sandbox/microvm"
)

func main() {
	// Inside a microVM, ralph is the guest's init and its exec wrapper.
	if microvm.IsGuest(os.Args) {
		os.Exit(microvm.GuestMain(os.Args))
	}
	os.Exit(cli.Main())
}
