package image

import (
	"context"
	"fmt"
	"io"

	"github.com/ralphloop/ralph/internal/proc"
)

// BaseSuite is the Debian release of a base made by Base: the first with
// a Node.js new enough for every agent's CLI (20).
const BaseSuite = "trixie"

// DefaultMirror is the Debian archive.
const DefaultMirror = "http://deb.debian.org/debian"

// Has reports whether engine has image locally.
func Has(ctx context.Context, engine, image string) bool {
	return proc.Run(ctx, proc.Cmd{Argv: []string{engine, "image", "inspect", "--format", "{{.Id}}", image}, Stdout: io.Discard}) == nil
}

// basePackages go into a base made by Base: what the Dockerfile's own
// steps and the agents' CLIs need.
var basePackages = "ca-certificates,git,curl,ripgrep,procps,nodejs,npm,passwd"

// BaseArgv is the mmdebstrap command that writes a minimal Debian root
// filesystem with Node.js and npm as a tar stream to stdout, from mirror
// (the Debian archive, or a mirror of it).
func BaseArgv(suite, mirror string) []string {
	return []string{"mmdebstrap", "--variant=minbase", "--include=" + basePackages, "--format=tar", suite, "-", mirror}
}

// Base makes tag, a base image for Build that needs no image registry:
// mmdebstrap builds the root filesystem from the Debian archive and the
// engine imports it.
func Base(ctx context.Context, engine, tag, suite, mirror string, progress io.Writer) error {
	if _, err := proc.Look("mmdebstrap"); err != nil {
		return fmt.Errorf("image base: mmdebstrap is not installed (Debian: apt-get install mmdebstrap): %w", err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := proc.Run(ctx, proc.Cmd{Argv: BaseArgv(suite, mirror), Stdout: pw, Stderr: progress})
		pw.CloseWithError(err)
		done <- err
	}()
	imp := proc.Run(ctx, proc.Cmd{Argv: []string{engine, "import",
		"--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--change", "CMD [\"/bin/sh\"]", "-", tag}, Stdin: pr, Stdout: progress, Stderr: progress})
	pr.CloseWithError(imp)
	if err := <-done; err != nil {
		return fmt.Errorf("image base: mmdebstrap: %w", err)
	}
	if imp != nil {
		return fmt.Errorf("image base: %s import: %w", engine, imp)
	}
	return nil
}
