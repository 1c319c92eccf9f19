package dirs

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	home := func() (string, error) { return "/h", nil }
	for _, tc := range []struct {
		goos string
		env  map[string]string
		want folders
	}{
		{"linux", nil, folders{"/h/.config/ralph", "/h/.local/state/ralph"}},
		{"linux", map[string]string{"XDG_CONFIG_HOME": "/c", "XDG_STATE_HOME": "/s"}, folders{"/c/ralph", "/s/ralph"}},
		{"darwin", nil, folders{"/h/Library/Application Support/ralph", "/h/Library/Application Support/ralph/state"}},
		{"darwin", map[string]string{"XDG_STATE_HOME": "/s"}, folders{"/h/Library/Application Support/ralph", "/s/ralph"}},
		{"windows", map[string]string{"APPDATA": "/r", "LOCALAPPDATA": "/l"}, folders{"/r/ralph", "/l/ralph"}},
		{"windows", nil, folders{"/h/AppData/Roaming/ralph", "/h/AppData/Local/ralph"}},
	} {
		got := resolve(tc.goos, func(k string) string { return tc.env[k] }, home)
		want := folders{filepath.FromSlash(tc.want.config), filepath.FromSlash(tc.want.state)}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(folders{})); diff != "" {
			t.Errorf("%s %v (-want +got):\n%s", tc.goos, tc.env, diff)
		}
	}
}
