package container

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ralphloop/ralph/internal/atomicfile"
)

// ralph's own seccomp profile, for every container backend (docker, podman,
// and gVisor, whose runsc applies it with --oci-seccomp). It does not rely
// on the engine's default: podman's default allows unshare, setns, mount
// and clone with any namespace flag, so an agent could make a user
// namespace and reach the host kernel's rtnetlink, nf_tables and mount
// code with full capabilities there (the attack review of issue #23).
//
// Default deny (ENOSYS, so programs fall back as on an older kernel). The
// allowed list is containers/common's default (as in Debian 12's podman
// 4.3) without what creates or enters namespaces, mounts, the kernel
// keyring, io_uring and the few calls only privileged processes need;
// clone is allowed only without namespace flags, clone3 answers ENOSYS
// (libc falls back to clone, which is checked), and the namespace and
// mount calls answer EPERM, as with docker's default.
const allowedSyscalls = `
_llseek _newselect accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown
chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range
creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2
epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2
fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat
fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64
fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futimesat
get_mempolicy get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid
getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid
getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32
getrlimit getrusage getsid getsockname getsockopt gettid gettimeofday getuid getuid32 getxattr
inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents
io_setup io_submit ioctl ioprio_get ioprio_set ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen
listxattr llistxattr lremovexattr lseek lsetxattr lstat lstat64 madvise mbind membarrier
memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2
mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
nanosleep newfstatat open openat openat2 pause pidfd_getfd pidfd_open pidfd_send_signal pipe
pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2
prlimit64 process_mrelease process_vm_readv process_vm_writev pselect6 pselect6_time64 ptrace
pwrite64 pwritev pwritev2 read readahead readdir readlink readlinkat readv recv recvfrom
recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2
restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr sched_getparam
sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity
sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop
semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto set_mempolicy
set_robust_list set_thread_area set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 setgid
setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid
setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit setsid setsockopt setuid
setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaction sigaltstack signal signalfd
signalfd4 sigpending sigprocmask sigreturn sigsuspend socketcall socketpair splice stat stat64
statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs syscall sysinfo tee tgkill
time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
utimensat utimensat_time64 utimes vfork wait4 waitid waitpid write writev`

// cloneNamespaceFlags: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET.
const cloneNamespaceFlags = 0x7E020000

type seccompArg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo"`
	Op       string `json:"op"`
}

type seccompRule struct {
	Names    []string            `json:"names"`
	Action   string              `json:"action"`
	ErrnoRet *uint               `json:"errnoRet,omitempty"`
	Args     []seccompArg        `json:"args,omitempty"`
	Includes map[string][]string `json:"includes,omitempty"`
}

type seccompArch struct {
	Arch string   `json:"architecture"`
	Sub  []string `json:"subArchitectures"`
}

type seccompProfile struct {
	DefaultAction   string        `json:"defaultAction"`
	DefaultErrnoRet uint          `json:"defaultErrnoRet"`
	ArchMap         []seccompArch `json:"archMap"`
	Syscalls        []seccompRule `json:"syscalls"`
}

// SeccompProfile is the profile as the engines read it (JSON). gVisor
// gets clone3 allowed: its seccomp ignores errnoRet and answers EPERM, on
// which glibc (pthread_create) and Bun do not fall back to clone, so no
// threaded program would run; inside gVisor a user namespace is the
// Sentry's, not the host kernel's, and mount, unshare and setns stay
// refused, so one cannot mount a cgroupfs to leave the pids limit
// (selftest row 14 checks that on gVisor).
func SeccompProfile(gvisor bool) []byte {
	eperm, enosys, einval := uint(1), uint(38), uint(22)
	rules := []seccompRule{
		{Names: strings.Fields(allowedSyscalls), Action: "SCMP_ACT_ALLOW"},
		{Names: []string{"clone"}, Action: "SCMP_ACT_ALLOW", Args: []seccompArg{{Index: 0, Value: cloneNamespaceFlags, Op: "SCMP_CMP_MASKED_EQ"}}},
		{Names: []string{"clone3"}, Action: "SCMP_ACT_ERRNO", ErrnoRet: &enosys},
	}
	if gvisor {
		rules[2] = seccompRule{Names: []string{"clone3"}, Action: "SCMP_ACT_ALLOW"}
	}
	rules = append(rules, []seccompRule{
		{Names: []string{"unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot", "fsopen", "fsmount", "fsconfig", "fspick",
			"open_tree", "move_mount", "mount_setattr", "keyctl", "add_key", "request_key", "userfaultfd", "bpf", "perf_event_open"},
			Action: "SCMP_ACT_ERRNO", ErrnoRet: &eperm},
		// personality: only the harmless personas (as every engine's default).
		{Names: []string{"personality"}, Action: "SCMP_ACT_ALLOW", Args: []seccompArg{{Index: 0, Value: 0x0, Op: "SCMP_CMP_EQ"}}},
		{Names: []string{"personality"}, Action: "SCMP_ACT_ALLOW", Args: []seccompArg{{Index: 0, Value: 0x8, Op: "SCMP_CMP_EQ"}}},
		{Names: []string{"personality"}, Action: "SCMP_ACT_ALLOW", Args: []seccompArg{{Index: 0, Value: 0x20000, Op: "SCMP_CMP_EQ"}}},
		{Names: []string{"personality"}, Action: "SCMP_ACT_ALLOW", Args: []seccompArg{{Index: 0, Value: 0x20008, Op: "SCMP_CMP_EQ"}}},
		{Names: []string{"personality"}, Action: "SCMP_ACT_ALLOW", Args: []seccompArg{{Index: 0, Value: 0xffffffff, Op: "SCMP_CMP_EQ"}}},
		{Names: []string{"arch_prctl"}, Action: "SCMP_ACT_ALLOW", Includes: map[string][]string{"arches": {"amd64", "x32"}}},
		{Names: []string{"modify_ldt"}, Action: "SCMP_ACT_ALLOW", Includes: map[string][]string{"arches": {"amd64", "x32", "x86"}}},
		{Names: []string{"arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls", "sync_file_range2"}, Action: "SCMP_ACT_ALLOW",
			Includes: map[string][]string{"arches": {"arm", "arm64"}}},
		// socket: anything but the kernel's audit netlink.
		{Names: []string{"socket"}, Action: "SCMP_ACT_ERRNO", ErrnoRet: &einval, Args: []seccompArg{{Index: 0, Value: 16, Op: "SCMP_CMP_EQ"}, {Index: 2, Value: 9, Op: "SCMP_CMP_EQ"}}},
		{Names: []string{"socket"}, Action: "SCMP_ACT_ALLOW", Args: []seccompArg{{Index: 2, Value: 9, Op: "SCMP_CMP_NE"}}},
		{Names: []string{"socket"}, Action: "SCMP_ACT_ALLOW", Args: []seccompArg{{Index: 0, Value: 16, Op: "SCMP_CMP_NE"}}},
	}...)
	p := seccompProfile{DefaultAction: "SCMP_ACT_ERRNO", DefaultErrnoRet: enosys,
		ArchMap:  []seccompArch{{"SCMP_ARCH_X86_64", []string{"SCMP_ARCH_X86", "SCMP_ARCH_X32"}}, {"SCMP_ARCH_AARCH64", []string{"SCMP_ARCH_ARM"}}},
		Syscalls: rules}
	b, _ := json.MarshalIndent(p, "", " ")
	return b
}

// hardening names the profile (and with it the hardening) a sandbox is
// made with, for LabelHardening.
func (e *Engine) hardening() string {
	sum := sha256.Sum256(SeccompProfile(e.runtime != ""))
	return "seccomp-" + hex.EncodeToString(sum[:8])
}

func (e *Engine) seccompDir() string {
	if e.SeccompDir != "" {
		return e.SeccompDir
	}
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		base = filepath.Join(e.home, ".local", "state")
	}
	return filepath.Join(base, "ralph", "seccomp")
}

// writeSeccomp writes the profile into dir under a name of its content
// (written once; the engines read it from there) and returns the path.
func writeSeccomp(dir string, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	p := filepath.Join(dir, "seccomp-"+hex.EncodeToString(sum[:8])+".json")
	if b, err := os.ReadFile(p); err == nil && string(b) == string(data) {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("seccomp profile: %w", err)
	}
	if err := atomicfile.Write(p, data, 0o644); err != nil {
		return "", fmt.Errorf("seccomp profile: %w", err)
	}
	return p, nil
}
