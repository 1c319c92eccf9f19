package selftest

import (
	"archive/tar"
	"bytes"
)

// ScratchImage is the image the selftest runs in when none is given: no
// tools at all, only the folders and users a sandbox needs. The probe is
// ralph itself, mounted in with the gate.
const ScratchImage = "ralph-selftest:scratch"

// ScratchRootfs is the tarball of ScratchImage.
func ScratchRootfs() *bytes.Buffer {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []struct {
		name string
		mode int64
	}{{"etc/", 0o755}, {"tmp/", 0o1777}, {"work/", 0o755}, {"home/", 0o755}, {"proc/", 0o755}, {"sys/", 0o755}, {"dev/", 0o755}} {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode})
	}
	for name, body := range map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/nonexistent\nralph:x:1000:1000:ralph:/home/ralph:/nonexistent\n",
		"etc/group":  "root:x:0:\nralph:x:1000:\n",
	} {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	tw.Close()
	return &buf
}
