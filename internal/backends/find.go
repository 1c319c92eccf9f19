package backends

import (
	"context"
	"errors"

	"github.com/ralphloop/ralph/internal/sandbox"
)

// Found is a sandbox and the backend that holds it.
type Found struct {
	Info    sandbox.Info
	Backend sandbox.Backend
}

// List lists ralph's sandboxes on every backend of list that answers;
// the error joins those of backends that answered and failed to list.
func List(ctx context.Context, list []sandbox.Backend) ([]Found, error) {
	var out []Found
	var errs []error
	for _, b := range list {
		if b.Available(ctx) != nil {
			continue
		}
		infos, err := b.List(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, in := range infos {
			out = append(out, Found{in, b})
		}
	}
	return out, errors.Join(errs...)
}

// Find finds the named sandboxes; a name ralph did not make is
// ErrNotFound.
func Find(ctx context.Context, list []sandbox.Backend, names []string) ([]Found, error) {
	all, err := List(ctx, list)
	if err != nil {
		return nil, err
	}
	var out []Found
	for _, n := range names {
		ok := false
		for _, f := range all {
			if f.Info.Name == n {
				out = append(out, f)
				ok = true
			}
		}
		if !ok {
			return nil, sandbox.NotFound("%s (ralph ls shows ralph's sandboxes)", n)
		}
	}
	return out, nil
}
