package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
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
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: "(devel)", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
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
		Short: "Print ralph's version, commit and platform",
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
	if o.asJSON {
		return json.NewEncoder(o.f.IO.Out).Encode(b)
	}
	fmt.Fprintln(o.f.IO.Out, b)
	return nil
}
