// Package atomicfile replaces a file's content in one step, through a
// temporary file in the same folder renamed over it: a reader, or a
// writer racing for the same name, sees the old file or the new one,
// never a torn or mixed one.
package atomicfile

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data, with mode perm.
func Write(path string, data []byte, perm fs.FileMode) error {
	return Copy(path, bytes.NewReader(data), perm)
}

// Copy replaces path with what r holds, with mode perm. The temporary
// file is hidden (.NAME.*.tmp) and removed on any failure; the data is
// synced before the rename.
func Copy(path string, r io.Reader, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
