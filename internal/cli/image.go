package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/image"
	"github.com/ralphloop/ralph/internal/sandbox"
)

func newImage(f *Factory) *cobra.Command {
	io := f.IO
	cmd := &cobra.Command{
		Use:     "image",
		Short:   "Build agent images for the container backends",
		Example: "  ralph image build --agent claude\n  ralph image build --agent codex --base-image node:22-bookworm\n  ralph image build --agent gemini --print   # show the embedded Dockerfile",
	}
	var agentName, base, tag, engine string
	var printOnly bool
	build := &cobra.Command{
		Use:   "build --agent NAME",
		Short: "Build an image with an agent's CLI (node, the CLI from npm, git, a non-root user)",
		Long: `build makes the image the container backends run by default,
ralph-<agent>:latest, from a Dockerfile embedded in ralph: a Node.js base,
the agent's CLI installed from npm, git, a non-root user with uid 1000, and
this ralph at /usr/local/bin/ralph (so the same image serves ralph fleet,
whose pods and gate run ralph).

It needs a reachable registry for the base image (node:22-bookworm-slim by
default) and for npm. On a machine without one, build your image elsewhere
and load it (docker load), or pass --base-image with a local image that has
Node.js and npm. --print shows the Dockerfile without building.`,
		Example: `  ralph image build --agent claude
  ralph image build --agent codex --engine podman
  ralph image build --agent claude --print > Dockerfile`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if printOnly {
				df, err := image.Dockerfile(agentName, base)
				if err != nil {
					return usageErr("%v", err)
				}
				_, err = io.Out.Write(df)
				return err
			}
			if _, err := image.Dockerfile(agentName, base); err != nil {
				return usageErr("%v", err)
			}
			if tag == "" {
				tag = "ralph-" + agentName + ":latest"
			}
			fmt.Fprintf(io.Err, "ralph: building %s with %s (base %s)\n", tag, engine, orDefault(base, image.DefaultBase))
			self, err := os.Executable()
			if err != nil {
				return err
			}
			if !sandbox.Static(self) {
				return usageErr("the image gets a copy of this ralph, which must be static: reinstall with CGO_ENABLED=0 go install ./cmd/ralph")
			}
			if err := image.Build(cmd.Context(), engine, agentName, tag, base, self, io.Err); err != nil {
				return fmt.Errorf("image build: %w (it needs a reachable registry for the base image and npm)", err)
			}
			fmt.Fprintf(io.Err, "ralph: built %s; run: ralph --agent %s\n", tag, agentName)
			return nil
		},
	}
	build.Flags().StringVar(&agentName, "agent", "claude", "agent whose CLI goes in the image")
	build.Flags().StringVar(&base, "base-image", "", "base image with Node.js and npm (default "+image.DefaultBase+")")
	build.Flags().StringVar(&tag, "tag", "", "image tag (default ralph-<agent>:latest)")
	build.Flags().StringVar(&engine, "engine", "docker", "engine that builds: docker or podman")
	build.Flags().BoolVar(&printOnly, "print", false, "print the Dockerfile and do not build")
	cmd.AddCommand(build)
	return cmd
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
