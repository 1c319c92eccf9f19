// Package image builds an agent image: a Node.js base with one agent's CLI
// from npm, git, a non-root user and ralph itself (so the same image runs
// a fleet's pods and gate), from a Dockerfile embedded in ralph; and, for
// a machine whose engine cannot pull a base, a Debian base made from the
// Debian archive with mmdebstrap (base.go).
package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/ralphloop/ralph/internal/proc"
)

// DefaultBase is the base image: made by Base from the Debian archive,
// no image registry needed.
const DefaultBase = "ralph-base:" + BaseSuite

// recipe is how an agent's CLI is installed (per its vendor's install
// documentation) and the program that reports its version.
type recipe struct {
	npm     string // the npm package; "" when not from npm
	install string // the shell install otherwise
	bin     string
	// setup are Dockerfile lines after the install, run as root.
	setup []string
}

var recipes = map[string]recipe{
	"claude": {npm: "@anthropic-ai/claude-code", bin: "claude"},
	"codex":  {npm: "@openai/codex", bin: "codex"},
	"gemini": {npm: "@google/gemini-cli", bin: "gemini"},
	// copilot unpacks a native addon into a cache under HOME on first use
	// and loads it from there: a sandbox's HOME is an in-memory folder
	// that allows no execution, so it is unpacked into the image instead.
	"copilot": {npm: "@github/copilot", bin: "copilot", setup: []string{
		"ENV COPILOT_PKG_CACHE_HOME=/opt/copilot-pkg",
		"RUN copilot --version >/dev/null && chmod -R a+rX /opt/copilot-pkg",
	}},
	"opencode": {npm: "opencode-ai", bin: "opencode"},
	"cursor": {install: "curl -fsSL https://cursor.com/install | bash && ln -s /root/.local/bin/cursor-agent /usr/local/bin/cursor-agent",
		bin: "cursor-agent"},
}

// CAPath is where a CA bundle given to the build lives in the image.
const CAPath = "/usr/local/share/ca-certificates/ralph-build-ca.crt"

var dockerfile = template.Must(template.New("Dockerfile").Parse(`# Built by ralph image build --agent {{.Agent}}
ARG BASE_IMAGE={{.Base}}
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates curl ripgrep procps \
 && rm -rf /var/lib/apt/lists/*
{{- if .CA}}
# The CA bundle given with --ca-file (a TLS-inspecting proxy's): trusted by
# the system and by Node, at build time and in the agent's runs.
COPY ralph-ca.crt {{.CAPath}}
RUN update-ca-certificates
ENV NODE_EXTRA_CA_CERTS={{.CAPath}}
{{- end}}
RUN {{.Install}}
{{- range .Setup}}
{{.}}
{{- end}}
# A non-root user with uid 1000 (the node images already have one).
RUN id -u 1000 >/dev/null 2>&1 || useradd --uid 1000 --create-home ralph
# ralph itself (static): what a fleet's pods and gate run.
COPY ralph /usr/local/bin/ralph
USER 1000:1000
WORKDIR /work
LABEL ralph.agent={{.Agent}}
`))

// Options say what to build.
type Options struct {
	Agent string
	// Base is the base image (DefaultBase when empty): it needs apt,
	// Node.js and npm.
	Base string
	// Version pins the agent's CLI (an npm version); "" for the latest.
	Version string
	// CAFile is a CA bundle to trust (a TLS-inspecting proxy's), or "".
	CAFile string
}

var versionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+-]*$`)

// Agents lists the agents an image can be built for.
func Agents() []string {
	return []string{"claude", "codex", "copilot", "cursor", "gemini", "opencode"}
}

// Dockerfile returns the Dockerfile for o.
func Dockerfile(o Options) ([]byte, error) {
	r, ok := recipes[o.Agent]
	if !ok {
		return nil, fmt.Errorf("no image recipe for agent %q (known: %v); build your own image with the agent's CLI and pass --image", o.Agent, Agents())
	}
	install := r.install
	if r.npm != "" {
		pkg := r.npm
		if o.Version != "" {
			if !versionRE.MatchString(o.Version) {
				return nil, fmt.Errorf("--cli-version %q: want an npm version such as 2.1.332", o.Version)
			}
			pkg += "@" + o.Version
		}
		install = "npm install -g " + pkg + " && npm cache clean --force"
	} else if o.Version != "" {
		return nil, fmt.Errorf("--cli-version: %s is not installed from npm; its installer takes no version", o.Agent)
	}
	base := o.Base
	if base == "" {
		base = DefaultBase
	}
	var b bytes.Buffer
	err := dockerfile.Execute(&b, map[string]any{"Agent": o.Agent, "Base": base, "Install": install, "Setup": r.setup, "CA": o.CAFile != "", "CAPath": CAPath})
	return b.Bytes(), err
}

// BuildArgv is the engine command that builds the image from the context
// folder dir (the Dockerfile, ralph and the CA bundle, nothing else).
func BuildArgv(engine, tag, base, dir string) []string {
	if base == "" {
		base = DefaultBase
	}
	return []string{engine, "build", "--tag", tag, "--build-arg", "BASE_IMAGE=" + base, dir}
}

// Build builds o as tag with self (a static ralph) in the image,
// streaming the engine's progress to progress; then asks the CLI in the
// image its version and records it as the label ralph.agent-version,
// which it returns.
func Build(ctx context.Context, engine, tag, self string, o Options, progress io.Writer) (string, error) {
	df, err := Dockerfile(o)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "ralph-image-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	files := map[string]string{"ralph": self}
	if o.CAFile != "" {
		files["ralph-ca.crt"] = o.CAFile
	}
	for name, src := range files {
		data, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("image: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			return "", fmt.Errorf("image: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644); err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	if err := proc.Run(ctx, proc.Cmd{Argv: BuildArgv(engine, tag, o.Base, dir), Stdout: progress, Stderr: progress}); err != nil {
		return "", err
	}
	return labelVersion(ctx, engine, tag, recipes[o.Agent].bin, progress)
}

// labelVersion runs the CLI in the image once, offline, for its version,
// and adds it to the image as a label.
func labelVersion(ctx context.Context, engine, tag, bin string, progress io.Writer) (string, error) {
	out, err := proc.Output(ctx, proc.Cmd{Argv: []string{engine, "run", "--rm", "--network", "none", "--entrypoint", bin, tag, "--version"}})
	if err != nil {
		return "", fmt.Errorf("image: %s --version in %s: %w", bin, tag, err)
	}
	v, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	df := fmt.Sprintf("FROM %s\nLABEL ralph.agent-version=%q\n", tag, v)
	err = proc.Run(ctx, proc.Cmd{Argv: []string{engine, "build", "--tag", tag, "-"}, Stdin: strings.NewReader(df), Stdout: progress, Stderr: progress})
	return v, err
}
