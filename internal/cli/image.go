package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ralphloop/ralph/internal/image"
	"github.com/ralphloop/ralph/internal/sandbox"
)

func newImage(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build agent images for the container backends",
		Example: `  ralph image build --agent claude
  ralph image build --agent codex --cli-version 0.171.0   # no image registry needed: the base is made from Debian's archive
  ralph image build --agent gemini --print   # show the embedded Dockerfile`,
	}
	cmd.AddCommand(newImageBuild(f, nil), newImageBase(f))
	return cmd
}

// defaultBaseTag is what ralph image base makes.
const defaultBaseTag = image.DefaultBase

type imageBuildOptions struct {
	f           *Factory
	opts        image.Options
	tag, engine string
	printOnly   bool
}

// newImageBuild builds ralph image build; runF does the work
// (imageBuildRun when nil).
func newImageBuild(f *Factory, runF func(context.Context, *imageBuildOptions) error) *cobra.Command {
	o := &imageBuildOptions{f: f}
	if runF == nil {
		runF = imageBuildRun
	}
	build := &cobra.Command{
		Use:   "build --agent NAME",
		Short: "Build an image with an agent's CLI (node, the CLI from npm, git, a non-root user)",
		Long: `build makes the image the container backends run by default,
ralph-<agent>:latest, from a Dockerfile embedded in ralph: a Node.js base,
the agent's CLI installed from npm (--cli-version pins it), git, a non-root
user with uid 1000, and this ralph at /usr/local/bin/ralph (so the same
image serves ralph fleet, whose pods and gate run ralph). The CLI's version
is asked of it once the image is built and recorded as the image's label
ralph.agent-version.

The default base is ` + defaultBaseTag + `, which ralph makes from the Debian archive
when the engine does not have it (ralph image base: mmdebstrap, about a
minute, no image registry); --base-image node:22-bookworm-slim (or any
image with apt, Node.js and npm) pulls one instead. The host's CA
certificates (` + hostCAFile + `) are trusted during the build and by the agent
in the image, so a proxy that inspects TLS works as it does on the host;
--ca-file names another bundle, --ca-file none trusts the base's own only.
--print shows the Dockerfile without building.`,
		Example: `  ralph image build --agent claude
  ralph image build --agent codex --engine podman --cli-version 0.171.0
  ralph image build --agent gemini --base-image node:22-bookworm-slim --ca-file none
  ralph image build --agent claude --print > Dockerfile`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runF(cmd.Context(), o) },
	}
	fl := build.Flags()
	fl.StringVar(&o.opts.Agent, "agent", "claude", "agent whose CLI goes in the image")
	fl.StringVar(&o.opts.Base, "base-image", defaultBaseTag, "base image with apt, Node.js and npm (the default is made with ralph image base when missing)")
	fl.StringVar(&o.opts.Version, "cli-version", "", "the agent CLI's npm version (default: the latest)")
	fl.StringVar(&o.opts.CAFile, "ca-file", "host", "CA bundle (PEM) trusted during the build and in the image: host ("+hostCAFile+"), a file, or none")
	fl.StringVar(&o.tag, "tag", "", "image tag (default ralph-<agent>:latest)")
	fl.StringVar(&o.engine, "engine", "docker", "engine that builds: docker or podman")
	fl.BoolVar(&o.printOnly, "print", false, "print the Dockerfile and do not build")
	return build
}

// hostCAFile is the host's CA bundle (Debian's).
const hostCAFile = "/etc/ssl/certs/ca-certificates.crt"

// imageBuildRun builds (or prints) the image.
func imageBuildRun(ctx context.Context, o *imageBuildOptions) error {
	io := o.f.IO
	switch o.opts.CAFile {
	case "none", "":
		o.opts.CAFile = ""
	case "host":
		o.opts.CAFile = ""
		if _, err := os.Stat(hostCAFile); err == nil {
			o.opts.CAFile = hostCAFile
		}
	}
	df, err := image.Dockerfile(o.opts)
	if err != nil {
		return usageErr("%v", err)
	}
	if o.printOnly {
		_, err = io.Out.Write(df)
		return err
	}
	if o.opts.CAFile != "" {
		if _, err := os.Stat(o.opts.CAFile); err != nil {
			return usageErr("--ca-file: %v", err)
		}
	}
	if o.opts.Base == defaultBaseTag && !image.Has(ctx, o.engine, defaultBaseTag) {
		fmt.Fprintf(io.Err, "ralph: %s is not in %s: making it from the Debian archive (ralph image base, once)\n", defaultBaseTag, o.engine)
		if err := image.Base(ctx, o.engine, defaultBaseTag, image.BaseSuite, image.DefaultMirror, io.Err); err != nil {
			return err
		}
	}
	defaultTag := "ralph-" + o.opts.Agent + ":latest"
	tag := orDefault(o.tag, defaultTag)
	fmt.Fprintf(io.Err, "ralph: building %s with %s (base %s)\n", tag, o.engine, o.opts.Base)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if !sandbox.Static(self) {
		return usageErr("the image gets a copy of this ralph, which must be static: reinstall with CGO_ENABLED=0 go install ./cmd/ralph")
	}
	version, err := image.Build(ctx, o.engine, tag, self, o.opts, io.Err)
	if err != nil {
		hint := "it needs the base image, the Debian archive and the npm registry"
		if o.opts.Base != defaultBaseTag {
			hint += "; without Docker Hub, leave --base-image at " + defaultBaseTag
		}
		if o.opts.CAFile == "" {
			hint += "; behind a TLS-inspecting proxy: --ca-file with its CA bundle"
		}
		return fmt.Errorf("image build: %w (%s)", err, hint)
	}
	run := "ralph --agent " + o.opts.Agent
	if tag != defaultTag {
		run += " --image " + tag
	}
	fmt.Fprintf(io.Err, "ralph: built %s with %s; run: %s\n", tag, version, run)
	return nil
}

func newImageBase(f *Factory) *cobra.Command {
	var tag, engine, suite, mirror string
	return withFlags(&cobra.Command{
		Use:   "base",
		Short: "Make a Debian base image with Node.js from the Debian archive (no image registry needed)",
		Long: `base makes a base image for ralph image build without any image registry:
mmdebstrap (apt-get install mmdebstrap) builds a minimal Debian root
filesystem (` + image.BaseSuite + `: its Node.js is new enough for every agent's CLI) with
Node.js, npm, git, curl, ripgrep and the CA certificates from the Debian
archive, and the engine imports it. It takes about a minute.`,
		Example: "  ralph image base\n  ralph image base --engine podman --mirror http://deb.example.internal/debian",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(f.IO.Err, "ralph: making %s from Debian %s (%s) with mmdebstrap\n", tag, suite, mirror)
			if err := image.Base(cmd.Context(), engine, tag, suite, mirror, f.IO.Err); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Err, "ralph: made %s; next: ralph image build --agent claude --base-image %s\n", tag, tag)
			return nil
		},
	}, func(fl *pflag.FlagSet) {
		fl.StringVar(&tag, "tag", defaultBaseTag, "image tag")
		fl.StringVar(&engine, "engine", "docker", "engine that imports: docker or podman")
		fl.StringVar(&suite, "suite", image.BaseSuite, "Debian release")
		fl.StringVar(&mirror, "mirror", image.DefaultMirror, "Debian archive or mirror")
	})
}

// withFlags adds flags to cmd.
func withFlags(cmd *cobra.Command, add func(*pflag.FlagSet)) *cobra.Command {
	add(cmd.Flags())
	return cmd
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
