//go:build !linux

package bwrap

// SeccompFilter: bubblewrap exists only on Linux.
func SeccompFilter() []byte { return nil }
