//go:build unix

package microvm

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// qemuAttr starts QEMU in a session of its own (it outlives this ralph);
// when ralph is root, as the sandbox's user: an escape from the guest
// into QEMU lands there, not in root, and its 9p server writes the
// project's files as that user.
func qemuAttr(asRoot bool, uid, gid int, accel string) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setsid: true}
	if asRoot {
		a.Credential = qemuCredential(uid, gid, accel, "/dev/kvm")
	}
	return a
}

// qemuCredential is who QEMU runs as when ralph is root: the sandbox's
// uid and gid, no other group, except the group that owns the KVM device
// when KVM is used (else QEMU, no longer root, could not open it).
func qemuCredential(uid, gid int, accel, kvmDevice string) *syscall.Credential {
	c := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	if accel != "kvm" {
		return c
	}
	if st, err := os.Stat(kvmDevice); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Gid != uint32(gid) && sys.Mode&0o060 == 0o060 {
			c.Groups = append(c.Groups, sys.Gid)
		}
	}
	return c
}

// killPid ends pid at once (SIGKILL).
func killPid(pid int) { syscall.Kill(pid, syscall.SIGKILL) }

// flock holds an exclusive lock on path until unlock.
func flock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// sharedLock opens path holding a shared lock, for QEMU to inherit: the
// lock lasts as long as some process holds the file open.
func sharedLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// tryLock takes an exclusive lock on path unless someone holds one.
func tryLock(path string) (unlock func(), ok bool) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return func() { f.Close() }, true
}
