//go:build unix

package microvm

import (
	"os"
	"path/filepath"
	"testing"
)

// TestQEMUCredential: QEMU drops to the sandbox's uid with no groups, but
// keeps the KVM device's group when it needs KVM.
func TestQEMUCredential(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "kvm")
	os.WriteFile(dev, nil, 0o660)
	os.Chmod(dev, 0o660)
	os.Chown(dev, 0, 4242)
	if c := qemuCredential(1000, 1000, "tcg", dev); c.Uid != 1000 || c.Gid != 1000 || len(c.Groups) != 0 {
		t.Errorf("tcg: %+v", c)
	}
	c := qemuCredential(1000, 1000, "kvm", dev)
	if os.Geteuid() == 0 && (len(c.Groups) != 1 || c.Groups[0] != 4242) {
		t.Errorf("kvm: groups %v, want [4242]", c.Groups)
	}
	if c := qemuCredential(1000, 1000, "kvm", filepath.Join(t.TempDir(), "none")); len(c.Groups) != 0 {
		t.Errorf("no device: groups %v", c.Groups)
	}
}
