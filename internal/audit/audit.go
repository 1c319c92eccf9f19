// Package audit reads a docker or podman run command line and reports each
// leak the seed names (root, kept capabilities, privilege escalation, a
// writable root, no resource caps, open network, broad or sensitive bind
// mounts, and above all the engine socket), with its fix, and builds the
// hardened equivalent.
package audit

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Severity orders findings.
type Severity string

const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
)

// Finding is one leak and its fix.
type Finding struct {
	Severity Severity `json:"severity"`
	Problem  string   `json:"problem"`
	Fix      string   `json:"fix"`
}

// Run is a parsed run command line.
type Run struct {
	Engine  string
	Flags   []Flag
	Image   string
	Command []string
}

// Flag is one option with its value ("" for booleans).
type Flag struct {
	Name  string // long name without dashes, e.g. "volume"
	Value string
}

// ErrParse marks a command line that is not a docker/podman run.
var ErrParse = errors.New("cannot parse")

// boolean lists the run options that take no value (long names).
var boolean = map[string]bool{
	"detach": true, "interactive": true, "tty": true, "rm": true, "privileged": true, "init": true,
	"read-only": true, "publish-all": true, "no-healthcheck": true, "oom-kill-disable": true,
	"quiet": true, "help": true, "disable-content-trust": true, "sig-proxy": true, "replace": true,
	"no-hosts": true, "read-only-tmpfs": true, "http-proxy": true, "env-host": true,
}

var shortNames = map[byte]string{
	'd': "detach", 'i': "interactive", 't': "tty", 'P': "publish-all", 'q': "quiet",
	'v': "volume", 'e': "env", 'p': "publish", 'u': "user", 'w': "workdir", 'm': "memory",
	'c': "cpu-shares", 'h': "hostname", 'l': "label", 'a': "attach",
}

// Parse reads argv: docker|podman [global flags] run|create [options] IMAGE [COMMAND...].
func Parse(argv []string) (Run, error) {
	if len(argv) == 0 {
		return Run{}, fmt.Errorf("%w: empty command line", ErrParse)
	}
	r := Run{Engine: path.Base(argv[0])}
	if r.Engine != "docker" && r.Engine != "podman" && r.Engine != "nerdctl" {
		return Run{}, fmt.Errorf("%w: %q is not docker or podman", ErrParse, argv[0])
	}
	i := 1
	globalWithValue := map[string]bool{"--context": true, "-c": true, "--host": true, "-H": true, "--config": true,
		"--log-level": true, "-l": true, "--tlscacert": true, "--tlscert": true, "--tlskey": true,
		"--connection": true, "--url": true, "--root": true, "--runroot": true, "--runtime": true, "--storage-driver": true}
	for i < len(argv) && argv[i] != "run" && argv[i] != "create" {
		if globalWithValue[argv[i]] {
			i += 2
			continue
		}
		if argv[i] == "container" || strings.HasPrefix(argv[i], "-") {
			i++
			continue
		}
		return Run{}, fmt.Errorf("%w: %q: only run and create are audited", ErrParse, argv[i])
	}
	if i == len(argv) {
		return Run{}, fmt.Errorf("%w: no run subcommand", ErrParse)
	}
	for i++; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			i++
			goto image
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			if !hasVal && !boolean[name] {
				if i+1 >= len(argv) {
					return Run{}, fmt.Errorf("%w: --%s needs a value", ErrParse, name)
				}
				i++
				val = argv[i]
			}
			r.Flags = append(r.Flags, Flag{name, val})
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				name, ok := shortNames[a[j]]
				if !ok {
					return Run{}, fmt.Errorf("%w: unknown option -%c", ErrParse, a[j])
				}
				if boolean[name] {
					r.Flags = append(r.Flags, Flag{Name: name})
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(argv) {
						return Run{}, fmt.Errorf("%w: -%c needs a value", ErrParse, a[j])
					}
					i++
					val = argv[i]
				}
				r.Flags = append(r.Flags, Flag{name, strings.TrimPrefix(val, "=")})
				break
			}
		default:
			goto image
		}
	}
image:
	if i >= len(argv) {
		return Run{}, fmt.Errorf("%w: no image", ErrParse)
	}
	r.Image, r.Command = argv[i], argv[i+1:]
	return r, nil
}

func (r Run) values(names ...string) []string {
	var out []string
	for _, f := range r.Flags {
		for _, n := range names {
			if f.Name == n {
				out = append(out, f.Value)
			}
		}
	}
	return out
}

func (r Run) has(name string) bool {
	for _, f := range r.Flags {
		if f.Name == name {
			return true
		}
	}
	return false
}

var secretName = regexp.MustCompile(`(?i)(token|secret|passw|api_?key|private|credential)`)

// Check returns the findings for r, most severe first. home is the user's
// home directory.
func Check(r Run, home string) []Finding {
	var out []Finding
	add := func(s Severity, problem, fix string) { out = append(out, Finding{s, problem, fix}) }
	for _, m := range mounts(r) {
		if f, ok := checkMount(m, home); ok {
			out = append(out, f)
		}
	}
	if r.has("privileged") {
		add(Critical, "--privileged gives every capability and every device: the container is root on the host", "remove --privileged")
	}
	for _, ns := range []string{"pid", "ipc", "uts", "userns", "cgroupns"} {
		for _, v := range r.values(ns) {
			if v == "host" {
				add(Critical, fmt.Sprintf("--%s=host shares the host's %s namespace", ns, ns), "remove --"+ns+"=host")
			}
		}
	}
	for _, v := range r.values("network", "net") {
		if v == "host" {
			add(Critical, "--network host puts the agent on the host's network, loopback services included", "use --network none (and an egress gate)")
		}
	}
	for _, v := range r.values("security-opt") {
		if strings.Contains(v, "unconfined") {
			add(High, "--security-opt "+v+" turns off a kernel confinement", "remove it")
		}
	}
	for _, v := range r.values("device") {
		add(High, "--device "+v+" hands a host device to the container", "remove --device")
	}
	users := r.values("user")
	if len(users) == 0 {
		add(High, "runs as root (uid 0) by default", "add --user 1000:1000 (or your uid:gid)")
	} else if u := users[len(users)-1]; u == "0" || u == "root" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:") {
		add(High, "runs as root (--user "+u+")", "use --user 1000:1000 (or your uid:gid)")
	}
	dropAll := false
	for _, v := range r.values("cap-drop") {
		if strings.EqualFold(v, "all") {
			dropAll = true
		}
	}
	if !dropAll {
		add(High, "keeps the default capabilities (chown, setuid, net_raw, ...)", "add --cap-drop=ALL")
	}
	for _, v := range r.values("cap-add") {
		add(High, "adds the capability "+v, "remove --cap-add="+v)
	}
	nnp := false
	for _, v := range r.values("security-opt") {
		if strings.HasPrefix(v, "no-new-privileges") && !strings.HasSuffix(v, "false") {
			nnp = true
		}
	}
	if !nnp {
		add(High, "a setuid binary can regain privileges", "add --security-opt=no-new-privileges")
	}
	if !r.has("read-only") {
		add(Medium, "the root filesystem is writable", "add --read-only --tmpfs /tmp")
	}
	if len(r.values("memory")) == 0 {
		add(Medium, "no memory limit", "add --memory 4g")
	}
	if len(r.values("cpus")) == 0 {
		add(Medium, "no CPU limit", "add --cpus 2")
	}
	if len(r.values("pids-limit")) == 0 {
		add(Medium, "no process limit: a fork bomb reaches the host", "add --pids-limit 512")
	}
	if len(r.values("network", "net")) == 0 {
		add(High, "full outbound network through the default bridge", "add --network none (and an egress gate with an allowlist)")
	}
	for _, v := range r.values("env") {
		k, val, ok := strings.Cut(v, "=")
		if ok && val != "" && secretName.MatchString(k) {
			add(Medium, "the secret "+k+" is written on the command line (shell history, ps)", "pass it by name: -e "+k+" (the value comes from your environment)")
		}
	}
	order := map[Severity]int{Critical: 0, High: 1, Medium: 2}
	stable := make([]Finding, 0, len(out))
	for _, s := range []Severity{Critical, High, Medium} {
		for _, f := range out {
			if order[f.Severity] == order[s] {
				stable = append(stable, f)
			}
		}
	}
	return stable
}

// mount is a bind mount's host source and container target.
type mount struct{ src, dst, raw string }

func mounts(r Run) []mount {
	var out []mount
	for _, v := range r.values("volume") {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 {
			out = append(out, mount{parts[0], parts[1], v})
		}
	}
	for _, v := range r.values("mount") {
		m := mount{raw: v}
		bind := false
		for _, kv := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(kv, "=")
			switch k {
			case "type":
				bind = val == "bind"
			case "source", "src":
				m.src = val
			case "target", "destination", "dst":
				m.dst = val
			}
		}
		if bind {
			out = append(out, m)
		}
	}
	return out
}

var sensitive = []string{".ssh", ".aws", ".gnupg", ".kube", ".docker", ".config", ".netrc", ".npmrc", ".pypirc", ".git-credentials", ".azure", ".gcloud"}

func checkMount(m mount, home string) (Finding, bool) {
	src := m.src
	if !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, "~") && !strings.HasPrefix(src, "$") && !strings.HasPrefix(src, ".") {
		return Finding{}, false // a named volume
	}
	if strings.HasPrefix(src, "~") {
		src = home + src[1:]
	}
	src = strings.ReplaceAll(strings.ReplaceAll(src, "${HOME}", home), "$HOME", home)
	clean := path.Clean(src)
	base := path.Base(clean)
	switch {
	case strings.HasSuffix(clean, ".sock") || strings.HasSuffix(clean, "/docker.sock") || clean == "/var/run" || clean == "/run":
		return Finding{Critical, "mounts " + m.src + ": an engine or agent socket hands the agent the host (a process that talks to the Docker daemon can start a container as host root)", "never mount an engine socket; remove -v " + m.raw}, true
	case clean == "/":
		return Finding{Critical, "mounts the host's root filesystem", "mount only the project: -v \"$PWD\":/work"}, true
	case home != "" && (clean == path.Clean(home) || strings.HasPrefix(path.Clean(home)+"/", clean+"/")):
		return Finding{Critical, "mounts " + m.src + ", which holds your home directory (keys, tokens, shell history)", "mount only the project: -v \"$PWD\":/work"}, true
	case strings.HasPrefix(clean, "/etc") || strings.HasPrefix(clean, "/var/lib") || strings.HasPrefix(clean, "/proc") || strings.HasPrefix(clean, "/sys") || strings.HasPrefix(clean, "/dev"):
		return Finding{High, "mounts the system path " + m.src, "remove -v " + m.raw}, true
	}
	for _, s := range sensitive {
		if base == s || strings.Contains(clean, "/"+s+"/") {
			return Finding{Critical, "mounts the credentials folder " + m.src, "remove -v " + m.raw + "; pass only the one token the task needs, by name"}, true
		}
	}
	return Finding{}, false
}

// Hardened returns the seed's hardened form of r: the same image, command,
// workdir and project mount, plus the full hardening set.
func Hardened(r Run, home string) []string {
	out := []string{r.Engine, "run"}
	for _, f := range []string{"interactive", "tty", "rm"} {
		if r.has(f) {
			out = append(out, "--"+f)
		}
	}
	out = append(out, "--user", "1000:1000", "--cap-drop=ALL", "--security-opt=no-new-privileges",
		"--read-only", "--tmpfs", "/tmp", "--memory", "4g", "--cpus", "2", "--pids-limit", "512", "--network", "none")
	project := ""
	for _, m := range mounts(r) {
		if _, bad := checkMount(m, home); !bad && project == "" {
			project = m.src + ":" + m.dst
		}
	}
	if project == "" {
		project = "$PWD:/work"
	}
	out = append(out, "-v", project)
	wd := r.values("workdir")
	if len(wd) > 0 {
		out = append(out, "-w", wd[len(wd)-1])
	} else if _, dst, ok := strings.Cut(project, ":"); ok {
		out = append(out, "-w", dst)
	}
	for _, v := range r.values("env") {
		k, _, _ := strings.Cut(v, "=")
		out = append(out, "-e", k)
	}
	out = append(out, r.Image)
	return append(out, r.Command...)
}
