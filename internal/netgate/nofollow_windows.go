//go:build windows

package netgate

// oNoFollow: Windows has no such flag; O_EXCL creations there refuse an
// existing link anyway.
const oNoFollow = 0
