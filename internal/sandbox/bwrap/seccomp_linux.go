package bwrap

import (
	"encoding/binary"
	"runtime"

	"golang.org/x/sys/unix"
)

// denied are the system calls a coding agent never needs and a kernel
// escape often does: mounting, namespaces, tracing, kernel modules and
// kexec, BPF, keyrings, userfaultfd, io_uring, perf, handle-based opens.
var denied = []uintptr{
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_SETNS, unix.SYS_UNSHARE,
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV,
	unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD, unix.SYS_REBOOT,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_NAME_TO_HANDLE_AT,
	unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_ACCT,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
}

const (
	auditArchX8664   = 0xC000003E
	auditArchAarch64 = 0xC00000B7
	retKillProcess   = 0x80000000
	retErrno         = 0x00050000
	retAllow         = 0x7fff0000
	x32Bit           = 0x40000000
)

// SeccompFilter returns the classic BPF program bwrap loads (--seccomp
// FD): other architectures are killed, x32 calls and the denied calls
// fail with EPERM, everything else is allowed. It returns nil on an
// architecture it does not know.
func SeccompFilter() []byte {
	var arch uint32
	switch runtime.GOARCH {
	case "amd64":
		arch = auditArchX8664
	case "arm64":
		arch = auditArchAarch64
	default:
		return nil
	}
	type ins struct {
		code   uint16
		jt, jf uint8
		k      uint32
	}
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	prog := []ins{
		{ldAbs, 0, 0, 4}, // seccomp_data.arch
		{jeq, 1, 0, arch},
		{ret, 0, 0, retKillProcess},
		{ldAbs, 0, 0, 0}, // seccomp_data.nr
	}
	n := len(denied)
	if runtime.GOARCH == "amd64" {
		// x32 system calls: index of "errno" is after the denied list and allow.
		prog = append(prog, ins{jge, uint8(n + 1), 0, x32Bit})
	}
	for i, nr := range denied {
		// Jump to the errno return: past the remaining checks and allow.
		prog = append(prog, ins{jeq, uint8(n - i), 0, uint32(nr)})
	}
	prog = append(prog, ins{ret, 0, 0, retAllow}, ins{ret, 0, 0, retErrno | uint32(unix.EPERM)})
	out := make([]byte, 0, 8*len(prog))
	for _, p := range prog {
		out = binary.LittleEndian.AppendUint16(out, p.code)
		out = append(out, p.jt, p.jf)
		out = binary.LittleEndian.AppendUint32(out, p.k)
	}
	return out
}
