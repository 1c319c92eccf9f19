package selftest

import (
	"context"
	"fmt"

	"github.com/ralphloop/ralph/internal/sandbox"
)

// Rows a backend may leave to its own mechanisms (sandbox.Governed).
var (
	networkRows = []int{6, 7, 8, 9, 10, 11}
	limitsRows  = []int{13}
)

// Prepare completes t from what its backend says of itself: the rows it
// governs with its own mechanisms are not applicable, with its reasons
// (sandbox.SelfGoverned), and a backend that runs images gets
// ScratchImage when t names none, made once in the backend's own image
// store (ralph never pulls).
func Prepare(ctx context.Context, t *Target) error {
	if sg, ok := t.Backend.(sandbox.SelfGoverned); ok {
		g := sg.Governs()
		t.ProbeInWorkspace = g.WorkspaceOnly
		t.NotApplicable = map[int]string{}
		for rows, why := range map[*[]int]string{&networkRows: g.Network, &limitsRows: g.Limits} {
			for _, id := range *rows {
				if why != "" {
					t.NotApplicable[id] = why
				}
			}
		}
	}
	iu, ok := t.Backend.(sandbox.ImageUser)
	if !ok || t.Image != "" {
		return nil
	}
	store := iu.Images(ctx)
	if store == nil {
		return sandbox.Unavailable("%s: no image store answers here to make %s in", t.Backend.Name(), ScratchImage)
	}
	t.Image = ScratchImage
	if store.HasImage(ctx, t.Image) {
		return nil
	}
	if err := store.Import(ctx, t.Image, ScratchRootfs()); err != nil {
		return fmt.Errorf("selftest: make %s: %w", t.Image, err)
	}
	return nil
}
