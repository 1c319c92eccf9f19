package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/helperbin"
	"github.com/ralphloop/ralph/internal/termsafe"
)

// Set by the release build (scripts/release.sh: -ldflags -X); empty in
// other builds, which read the module's version and VCS stamp instead.
// The only package variables of cli: the linker can set nothing else.
var (
	releaseVersion string
	releaseCommit  string
	releaseDate    string
)

// buildInfo is what this binary knows of itself.
type buildInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	// AgentsTested are the agent CLIs' versions this build's adapters
	// were tested with end to end.
	AgentsTested map[string]string `json:"agents_tested"`
	// Helper is what goes into sandboxes and boots microVMs: the
	// ralph-helper beside ralph when it is of the same build, else ralph.
	Helper     string `json:"helper,omitempty"`
	HelperSlim bool   `json:"helper_slim,omitempty"`
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: "(devel)", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, AgentsTested: map[string]string{}}
	for name, a := range agent.Registry() {
		if a.Tested != "" {
			b.AgentsTested[name] = a.Tested
		}
	}
	if releaseVersion != "" {
		b.Version, b.Commit, b.Time = releaseVersion, releaseCommit, releaseDate
		return b
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := bi.Main.Version; v != "" {
		b.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

func (b buildInfo) String() string {
	s := "ralph " + b.Version
	if b.Commit != "" {
		c := b.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (" + c
		if b.Modified {
			s += ", modified"
		}
		if b.Time != "" {
			s += ", " + b.Time
		}
		s += ")"
	}
	return fmt.Sprintf("%s %s/%s %s", s, b.OS, b.Arch, b.Go)
}

type versionOptions struct {
	f      *Factory
	asJSON bool
}

// newVersion builds ralph version; runF does the work (versionRun when
// nil).
func newVersion(f *Factory, runF func(context.Context, *versionOptions) error) *cobra.Command {
	o := &versionOptions{f: f}
	if runF == nil {
		runF = versionRun
	}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print ralph's version, commit, platform and the agent CLI versions it was tested with",
		Example: `  ralph version
  ralph version --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runF(cmd.Context(), o) },
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "one JSON object")
	return cmd
}

// versionRun prints what this ralph was built from.
func versionRun(ctx context.Context, o *versionOptions) error {
	b := readBuildInfo()
	f := helperbin.Running()
	b.Helper, b.HelperSlim = f.Path, f.Slim
	if o.asJSON {
		return json.NewEncoder(o.f.IO.Out).Encode(b)
	}
	fmt.Fprintln(o.f.IO.Out, b)
	var tested []string
	for _, n := range slices.Sorted(maps.Keys(b.AgentsTested)) {
		tested = append(tested, n+" "+b.AgentsTested[n])
	}
	fmt.Fprintf(o.f.IO.Out, "agent CLIs tested: %s\n", strings.Join(tested, ", "))
	switch {
	case b.HelperSlim:
		fmt.Fprintf(o.f.IO.Out, "sandbox helper: %s (%s; the same build)\n", termsafe.Line(b.Helper), fileSize(b.Helper))
	case runtime.GOOS == "linux":
		fmt.Fprintf(o.f.IO.Out, "sandbox helper: ralph itself (%s; no %s of this build beside it)\n", fileSize(b.Helper), helperbin.Name)
	default:
		fmt.Fprintf(o.f.IO.Out, "sandbox helper: none: docker and podman cannot run here without it (sbx needs none)\n")
	}
	return nil
}

// fileSize is p's size in MB, for people.
func fileSize(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		return "size unknown"
	}
	return fmt.Sprintf("%.1f MB", float64(fi.Size())/1e6)
}
