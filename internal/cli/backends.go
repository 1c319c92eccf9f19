package cli

import (
	"context"
	"strings"

	"github.com/ralphloop/ralph/internal/backends"
	"github.com/ralphloop/ralph/internal/sandbox"
)

const hostWarning = "ralph: WARNING: --sandbox host: the agent runs on this machine with no isolation, with your files, keys and network"

// pickBackend is the backend --sandbox names, checked usable, and the
// warning to print every iteration, if any.
func (f *Factory) pickBackend(ctx context.Context, name string, onHost bool) (sandbox.Backend, string, error) {
	switch name {
	case "host":
		if !onHost {
			return nil, "", usageErr("--sandbox host runs the agent with no isolation; pass --dangerously-run-on-host as well if you mean it")
		}
		return f.Host(), hostWarning, nil
	case "pod":
		b := f.Pod()
		return b, "", b.Available(ctx)
	case "auto", "":
		b, err := backends.Auto(ctx, f.Isolating())
		return b, "", err
	}
	b, ok := backends.Lookup(f.Isolating(), name)
	if !ok {
		return nil, "", usageErr("unknown sandbox %q (known: %s)", name, strings.Join(backends.Names(f.Isolating()), ", "))
	}
	if err := b.Available(ctx); err != nil {
		return nil, "", err
	}
	return b, "", nil
}
