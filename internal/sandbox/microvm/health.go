package microvm

import (
	"context"
	"fmt"
	"strings"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/container"
)

var (
	_ sandbox.Doctor    = (*VM)(nil)
	_ sandbox.ImageUser = (*VM)(nil)
)

// Health describes the microVM backend for ralph doctor: QEMU, the
// accelerator a probe boot found, and a boot measured now.
func (v *VM) Health(ctx context.Context, usable bool, image string) sandbox.Health {
	h := sandbox.Health{
		Gate:   "enforced: no network device at all; the guest's proxy reaches ralph's gate over the VM's serial channel",
		Limits: "pids and memory: a cgroup inside the guest's own kernel, under the VM's memory; the host's kernel is not shared",
		Disk:   sandbox.DiskCapped,
	}
	_, err := proc.Look("qemu-system-x86_64")
	h.Found = err == nil
	if out, err := proc.Output(ctx, proc.Cmd{Argv: []string{"qemu-system-x86_64", "--version"}}); err == nil {
		h.Version, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	}
	if !usable {
		return h
	}
	a := v.Accel(ctx)
	h.Accel = a.Accel
	h.Note = "KVM (a probe boot under KVM worked)"
	if h.Accel != "kvm" {
		h.Note = "TCG only (" + a.Reason + "): works, but too slow for auto; --sandbox microvm to ask for it"
	}
	if d, err := v.MeasureBoot(ctx); err == nil {
		h.BootSeconds = d.Seconds()
		h.Note += fmt.Sprintf("; boot measured now: %.1f s (%s, kernel and init to power-off)", d.Seconds(), h.Accel)
	} else {
		h.Note += "; boot not measured: " + err.Error()
	}
	if bt, ok := v.LastBoot(); ok {
		h.Note += fmt.Sprintf("; last sandbox boot to first answer %.1f s (%s)", bt.Seconds, bt.Accel)
	}
	return h
}

// Images is where the microVM takes an image's root filesystem from: the
// first of docker and podman that answers (as exportRootfs looks).
func (v *VM) Images(ctx context.Context) sandbox.ImageStore {
	for _, e := range []*container.Engine{container.Docker(), container.Podman()} {
		if e.Available(ctx) == nil {
			return e
		}
	}
	return nil
}
