// Package dirs says where ralph keeps its configuration and its state on
// each OS: the XDG folders where they are set, else the OS's convention
// (~/.config and ~/.local/state on Linux and the BSDs; the user's
// Application Support folder on macOS, state in its state/ folder; %AppData% and %LocalAppData% on
// Windows). Both are outside every workspace.
package dirs

import (
	"os"
	"path/filepath"
	"runtime"
)

// Config is ralph's config folder (settings, trust approvals, policies).
func Config() string { return resolve(runtime.GOOS, os.Getenv, os.UserHomeDir).config }

// State is ralph's state folder (records, logs, gates, caches of runs).
func State() string { return resolve(runtime.GOOS, os.Getenv, os.UserHomeDir).state }

type folders struct{ config, state string }

// resolve is Config and State for an OS, an environment and a home.
func resolve(goos string, getenv func(string) string, home func() (string, error)) folders {
	h, _ := home()
	var f folders
	switch goos {
	case "darwin":
		// One folder for both; state below it, apart from the settings.
		base := filepath.Join(h, "Library", "Application Support")
		f = folders{base, filepath.Join(base, "ralph")}
	case "windows":
		f = folders{getenv("APPDATA"), getenv("LOCALAPPDATA")}
		if f.config == "" {
			f.config = filepath.Join(h, "AppData", "Roaming")
		}
		if f.state == "" {
			f.state = filepath.Join(h, "AppData", "Local")
		}
	default:
		f = folders{filepath.Join(h, ".config"), filepath.Join(h, ".local", "state")}
	}
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		f.config = x
	}
	stateName := "ralph"
	if goos == "darwin" {
		stateName = "state"
	}
	if x := getenv("XDG_STATE_HOME"); x != "" {
		f.state, stateName = x, "ralph"
	}
	return folders{filepath.Join(f.config, "ralph"), filepath.Join(f.state, stateName)}
}
