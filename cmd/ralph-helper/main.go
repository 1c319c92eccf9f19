// Command ralph-helper is the part of ralph that runs inside its
// sandboxes and microVMs (internal/helper), built alone: installed beside
// ralph, it is what ralph mounts into a sandbox and boots as a microVM's
// init, instead of ralph's whole binary.
package main

import (
	"os"

	"github.com/ralphloop/ralph/internal/helper"
)

func main() { os.Exit(helper.Main(os.Args)) }
