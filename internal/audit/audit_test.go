package audit

import (
	"errors"
	"strings"
	"testing"
)

func problems(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(string(f.Severity) + ": " + f.Problem + "\n")
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	const home = "/home/me"
	tests := []struct {
		name string
		argv string
		want []string // substrings that must appear among the problems
		none []string // substrings that must not
		n    int      // exact number of findings, -1 to skip
	}{
		{"seed's minimal", `docker run -it --rm -v /home/me/app:/work -w /work node:22 bash`,
			[]string{"runs as root", "default capabilities", "setuid", "writable", "no memory limit", "no CPU limit", "no process limit", "full outbound network"}, nil, 8},
		{"seed's hardened", `docker run -it --rm --user 1000:1000 --cap-drop=ALL --security-opt=no-new-privileges --read-only --tmpfs /tmp --memory 4g --cpus 2 --pids-limit 512 --network none -v /home/me/app:/work -w /work node:22 bash`,
			nil, nil, 0},
		{"docker socket", `docker run -v /var/run/docker.sock:/var/run/docker.sock --user 1000 --cap-drop ALL --security-opt no-new-privileges --read-only --memory 1g --cpus 1 --pids-limit 100 --network none alpine`,
			[]string{"engine or agent socket"}, nil, 1},
		{"socket via --mount", `docker run --mount type=bind,source=/run/podman/podman.sock,target=/s alpine`,
			[]string{"engine or agent socket"}, nil, -1},
		{"home and ssh", `docker run -v /home/me:/home/me -v /home/me/.ssh:/root/.ssh:ro -v ~/.aws:/root/.aws alpine`,
			[]string{"holds your home directory", "credentials folder /home/me/.ssh", "credentials folder ~/.aws"}, nil, -1},
		{"root filesystem", `podman run -v /:/host alpine`, []string{"root filesystem"}, nil, -1},
		{"privileged and host namespaces", `docker run --privileged --pid=host --network=host --cap-add SYS_ADMIN alpine`,
			[]string{"--privileged", "--pid=host", "--network host", "adds the capability SYS_ADMIN"}, []string{"full outbound network"}, -1},
		{"root user explicit", `docker run -u 0:0 alpine`, []string{"runs as root (--user 0:0)"}, nil, -1},
		{"secret on command line", `docker run -e ANTHROPIC_API_KEY=sk-ant-123 -e DEBUG=1 -e GITHUB_TOKEN alpine`,
			[]string{"the secret ANTHROPIC_API_KEY"}, []string{"DEBUG", "GITHUB_TOKEN"}, -1},
		{"named volume is fine", `docker run -v node_modules:/work/node_modules -v "$PWD":/work alpine`, nil, []string{"mounts"}, -1},
		{"unconfined", `docker run --security-opt seccomp=unconfined --device /dev/kvm alpine`, []string{"seccomp=unconfined", "/dev/kvm"}, nil, -1},
		{"global flags and create", `docker --context prod container create -dit alpine sh`, []string{"runs as root"}, nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(strings.Fields(strings.ReplaceAll(tt.argv, `"`, "")))
			if err != nil {
				t.Fatal(err)
			}
			fs := Check(r, home)
			got := problems(fs)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, got)
				}
			}
			for _, w := range tt.none {
				if strings.Contains(got, w) {
					t.Errorf("unexpected %q in:\n%s", w, got)
				}
			}
			if tt.n >= 0 && len(fs) != tt.n {
				t.Errorf("%d findings, want %d:\n%s", len(fs), tt.n, got)
			}
			// The hardened equivalent is clean.
			h, err := Parse(Hardened(r, home))
			if err != nil {
				t.Fatalf("hardened form does not parse: %v", err)
			}
			if fs := Check(h, home); len(fs) != 0 {
				t.Errorf("hardened form %q still has:\n%s", Hardened(r, home), problems(fs))
			}
		})
	}
}

func TestParse(t *testing.T) {
	r, err := Parse(strings.Fields("docker run -it --rm -v /a:/work -w /work --name x node:22 npm test --watch"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Image != "node:22" || strings.Join(r.Command, " ") != "npm test --watch" {
		t.Errorf("image %q command %q", r.Image, r.Command)
	}
	for _, bad := range []string{"", "kubectl run x", "docker ps", "docker run", "docker run -v", "docker run --memory", "docker run -Z alpine"} {
		if _, err := Parse(strings.Fields(bad)); !errors.Is(err, ErrParse) {
			t.Errorf("Parse(%q) = %v, want ErrParse", bad, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("docker run -it --rm -v /a:/b alpine sh")
	f.Add("podman run --mount type=bind,source=/,target=/h alpine")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(strings.Fields(s))
		if err != nil {
			return
		}
		Check(r, "/home/me")
		if _, err := Parse(Hardened(r, "/home/me")); err != nil {
			t.Fatalf("hardened form of %q does not parse: %v", s, err)
		}
	})
}
