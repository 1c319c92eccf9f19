// Package image builds an agent image: a Node.js base with one agent's CLI
// from npm, git, a non-root user and ralph itself (so the same image runs
// a fleet's pods and gate), from a Dockerfile embedded in ralph.
package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/template"

	"github.com/ralphloop/ralph/internal/proc"
)

// DefaultBase is the base image; pulling it needs a reachable registry.
const DefaultBase = "node:22-bookworm-slim"

// installs is how each agent's CLI is installed (npm packages, per each
// vendor's install documentation).
var installs = map[string]string{
	"claude":   "npm install -g @anthropic-ai/claude-code",
	"codex":    "npm install -g @openai/codex",
	"gemini":   "npm install -g @google/gemini-cli",
	"copilot":  "npm install -g @github/copilot",
	"opencode": "npm install -g opencode-ai",
	"cursor":   "curl -fsSL https://cursor.com/install | bash && ln -s /root/.local/bin/cursor-agent /usr/local/bin/cursor-agent",
}

var dockerfile = template.Must(template.New("Dockerfile").Parse(`# Built by ralph image build --agent {{.Agent}}
ARG BASE_IMAGE={{.Base}}
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates curl ripgrep procps \
 && rm -rf /var/lib/apt/lists/*
RUN {{.Install}} && npm cache clean --force
# A non-root user with uid 1000 (the node images already have one).
RUN id -u 1000 >/dev/null 2>&1 || useradd --uid 1000 --create-home ralph
# ralph itself (static): what a fleet's pods and gate run.
COPY ralph /usr/local/bin/ralph
USER 1000:1000
WORKDIR /work
LABEL ralph.agent={{.Agent}}
`))

// Agents lists the agents an image can be built for.
func Agents() []string {
	return []string{"claude", "codex", "copilot", "cursor", "gemini", "opencode"}
}

// Dockerfile returns the Dockerfile for agent on base.
func Dockerfile(agent, base string) ([]byte, error) {
	inst, ok := installs[agent]
	if !ok {
		return nil, fmt.Errorf("no image recipe for agent %q (known: %v); build your own image with the agent's CLI and pass --image", agent, Agents())
	}
	if base == "" {
		base = DefaultBase
	}
	var b bytes.Buffer
	err := dockerfile.Execute(&b, map[string]string{"Agent": agent, "Base": base, "Install": inst})
	return b.Bytes(), err
}

// BuildArgv is the engine command that builds the image from the context
// folder dir (the Dockerfile and ralph, nothing else).
func BuildArgv(engine, tag, base, dir string) []string {
	if base == "" {
		base = DefaultBase
	}
	return []string{engine, "build", "--tag", tag, "--build-arg", "BASE_IMAGE=" + base, dir}
}

// Build runs the build with self (a static ralph) in the image, streaming
// the engine's progress to progress.
func Build(ctx context.Context, engine, agent, tag, base, self string, progress io.Writer) error {
	df, err := Dockerfile(agent, base)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ralph-image-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := os.ReadFile(self)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ralph"), bin, 0o755); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	argv := BuildArgv(engine, tag, base, dir)
	return proc.Run(ctx, proc.Cmd{Argv: argv, Stdout: progress, Stderr: progress})
}
