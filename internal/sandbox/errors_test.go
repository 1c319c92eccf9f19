package sandbox

import (
	"errors"
	"io/fs"
	"testing"
)

func TestKindErrors(t *testing.T) {
	err := Unavailable("docker info: %w", fs.ErrPermission)
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRefused) {
		t.Errorf("Is: got unavailable=%v refused=%v", errors.Is(err, ErrUnavailable), errors.Is(err, ErrRefused))
	}
	if !errors.Is(err, fs.ErrPermission) {
		t.Error("the wrapped cause is lost")
	}
	if got, want := err.Error(), "sandbox backend unavailable: docker info: permission denied"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := Detail(err), "docker info: permission denied"; got != want {
		t.Errorf("Detail = %q, want %q", got, want)
	}
	if got, want := Detail(errors.New("plain")), "plain"; got != want {
		t.Errorf("Detail of a plain error = %q, want %q", got, want)
	}
	if r := Refused("workdir %q", "/"); !errors.Is(r, ErrRefused) || Detail(r) != `workdir "/"` {
		t.Errorf("Refused: %v", r)
	}
}
