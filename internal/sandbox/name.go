package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
)

// maxDirPart bounds the <dir> part so names stay within engine limits.
const maxDirPart = 40

// Name returns the deterministic sandbox name for an agent and an absolute
// project path: ralph-<agent>-<dir>-<hash8>. <dir> is the base name of the
// path, lower-cased, each run of characters outside [a-z0-9] replaced by
// "-", trimmed of "-" and cut to 40 characters; <hash8> is the first 8 hex
// digits of the SHA-256 of the path. When <dir> comes out empty (a name of
// only non-ASCII letters), the part is left out: ralph-<agent>-<hash8>.
func Name(agent, absProject string) string {
	sum := sha256.Sum256([]byte(absProject))
	hash := hex.EncodeToString(sum[:])[:8]
	dir := slug(filepath.Base(absProject))
	if dir == "" {
		return "ralph-" + slug(agent) + "-" + hash
	}
	return "ralph-" + slug(agent) + "-" + dir + "-" + hash
}

// LoopName is the sandbox of a loop other than the project's default
// one in its folder: ralph-<agent>-<dir>-<loop>-<hash8>, where the hash
// also covers the loop and whether it works on a clone, so a clone's
// sandbox is never one that has the user's own folder mounted.
func LoopName(agent, absProject, loop string, clone bool) string {
	mode := "bind"
	if clone {
		mode = "clone"
	}
	sum := sha256.Sum256([]byte(absProject + "\x00" + mode + "\x00" + loop))
	hash := hex.EncodeToString(sum[:])[:8]
	parts := []string{"ralph", slug(agent)}
	for _, p := range []string{slug(filepath.Base(absProject)), slug(loop)} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(append(parts, hash), "-")
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > maxDirPart {
		out = strings.TrimRight(out[:maxDirPart], "-")
	}
	return out
}
