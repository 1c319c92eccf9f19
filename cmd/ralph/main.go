// Command ralph runs a coding agent in a loop inside a sandbox.
package main

import (
	"os"

	"github.com/ralphloop/ralph/internal/cli"
)

func main() { os.Exit(cli.Main()) }
