package microvm

// agentMemory is the memory limit of the agent's cgroup in the guest:
// what the user asked for (want, 0 for none), but never more than the
// guest has available when its init starts, less a reserve for what is
// not the agent's (the kernel's own growth, page tables, the guest init,
// and the copy of ralph, self bytes, put in /.ralph after this). Past
// the limit the cgroup's own OOM killer ends an agent process; without
// the reserve the guest-wide OOM killer fired first (anon 3.7 GB of a
// 4 GiB guest) and could take the VM down with it. 0 is no limit: nothing
// asked and nothing known (the host always asks).
func agentMemory(want, available, self int64) int64 {
	const reserve, floor = 128 << 20, 32 << 20
	if available <= 0 {
		return want // nothing known: as asked
	}
	room := available - reserve - self
	if want > 0 && want < room {
		return want
	}
	return max(room, floor)
}
