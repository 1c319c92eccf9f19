package image

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDockerfile(t *testing.T) {
	for _, a := range Agents() {
		df, err := Dockerfile(a, "")
		if err != nil {
			t.Fatal(err)
		}
		s := string(df)
		for _, want := range []string{"ARG BASE_IMAGE=" + DefaultBase, "FROM ${BASE_IMAGE}", installs[a], "USER 1000:1000", "WORKDIR /work", "COPY ralph /usr/local/bin/ralph"} {
			if !strings.Contains(s, want) {
				t.Errorf("%s: Dockerfile lacks %q:\n%s", a, want, s)
			}
		}
	}
	if _, err := Dockerfile("aider", ""); err == nil {
		t.Error("unknown agent accepted")
	}
	df, _ := Dockerfile("claude", "node:20")
	if !strings.Contains(string(df), "ARG BASE_IMAGE=node:20") {
		t.Error("base image ignored")
	}
}

func TestBuildArgv(t *testing.T) {
	got := BuildArgv("podman", "ralph-codex:latest", "", "/tmp/ctx")
	want := []string{"podman", "build", "--tag", "ralph-codex:latest", "--build-arg", "BASE_IMAGE=" + DefaultBase, "/tmp/ctx"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
