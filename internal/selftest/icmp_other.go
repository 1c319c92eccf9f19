//go:build !linux

package selftest

// pingLoopback: the probe runs on Linux only.
func pingLoopback(mark string) []string { return nil }
