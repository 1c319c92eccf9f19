//go:build windows

package sandbox

import "os"

// FileOwner: Windows files have no uid; the sandboxes there (sbx, Docker
// Desktop) map the project themselves.
func FileOwner(fi os.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }
