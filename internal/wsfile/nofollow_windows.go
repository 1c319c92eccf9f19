//go:build windows

package wsfile

// oNoFollow: Windows has no such flag; O_EXCL creations there refuse an
// existing link anyway.
const oNoFollow = 0
