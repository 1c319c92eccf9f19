package cli

import (
	"testing"

	"github.com/spf13/cobra"
)

// Every command a user can see teaches with examples in its --help.
func TestEveryCommandHasExamples(t *testing.T) {
	f, _ := testFactory(t)
	root := NewRoot(f)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if c.Example == "" {
			t.Errorf("%q has no examples in its --help", c.CommandPath())
		}
		if c.Name() == "completion" {
			return // cobra writes its shells' own help
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
