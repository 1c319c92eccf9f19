package sandbox

import (
	"os"
	"strings"
	"testing"
)

func TestRunAs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		spec     Spec
		uid, gid int
	}{
		{Spec{User: "1234:5678", Project: dir}, 1234, 5678},
		{Spec{User: "42", Project: dir}, 42, 42},
		{Spec{Project: "/nonexistent"}, 1000, 1000},
	}
	if os.Geteuid() == 0 {
		os.Chown(dir, 2001, 2002)
		tests = append(tests, struct {
			spec     Spec
			uid, gid int
		}{Spec{Project: dir}, 2001, 2002})
	}
	for _, tt := range tests {
		uid, gid, err := RunAs(tt.spec)
		if err != nil || uid != tt.uid || gid != tt.gid {
			t.Errorf("RunAs(%+v) = %d:%d %v, want %d:%d", tt.spec, uid, gid, err, tt.uid, tt.gid)
		}
	}
	if _, _, err := RunAs(Spec{User: "root:x"}); err == nil {
		t.Error("a non-numeric user was accepted")
	}
	for _, u := range []string{"0", "0:0", "1000:0"} {
		if _, _, err := RunAs(Spec{User: u, Project: dir}); err == nil {
			t.Errorf("--user %s (root) was accepted", u)
		}
	}
	if os.Geteuid() == 0 {
		root := t.TempDir()
		if _, _, err := RunAs(Spec{Project: root}); err == nil || !strings.Contains(err.Error(), "--user") {
			t.Errorf("a project owned by root: %v, want a refusal that asks for --user", err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4g": 4 << 30, "512m": 512 << 20, "1024k": 1 << 20, "100": 100, " 2G ": 2 << 30} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "g", "-1m", "4x", "lots"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}
