// Package sbxtest holds a fake of the documented surface of Docker Sandboxes'
// sbx CLI (shared/SBX.md) for ralph's tests: it keeps state (exists,
// running, stopped) in $FAKE_SBX_STATE, records every argv in
// $FAKE_SBX_LOG, returns sbx's documented errors, and runs exec'd
// commands on the host in the sandbox's workspace, with only the -e
// variables. It isolates nothing. FAKE_SBX_DOWN=1 makes every command
// fail as with a dead daemon.
package sbxtest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
)

type box struct {
	Name       string   `json:"name"`
	Agent      string   `json:"agent"`
	Status     string   `json:"status"`
	Workspaces []string `json:"workspaces"`
	// Secrets are the sandbox's own (sbx secret set SERVICE --sandbox
	// NAME): the fake keeps them in its state; exec shows the agent the
	// service's sentinel instead (shared/SBX.md: "proxy-managed").
	Secrets map[string]string `json:"secrets,omitempty"`
}

// sentinels are the variables the agent sees for a service's secret.
var sentinels = map[string]string{"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY", "google": "GEMINI_API_KEY", "github": "GH_TOKEN"}

func load() map[string]*box {
	m := map[string]*box{}
	if b, err := os.ReadFile(os.Getenv("FAKE_SBX_STATE")); err == nil {
		json.Unmarshal(b, &m)
	}
	return m
}

func save(m map[string]*box) {
	b, _ := json.Marshal(m)
	os.WriteFile(os.Getenv("FAKE_SBX_STATE"), b, 0o644)
}

// lockState holds an exclusive lock on the state file's lock until the
// returned function is called (or the process exits).
func lockState() func() {
	f, err := os.OpenFile(os.Getenv("FAKE_SBX_STATE")+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return func() {}
	}
	lockFile(f)
	var once sync.Once
	return func() { once.Do(func() { f.Close() }) }
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// Main is the fake sbx's entry point (fakesbx, and testscript's "sbx").
func Main() {
	if p := os.Getenv("FAKE_SBX_LOG"); p != "" {
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, strings.Join(os.Args[1:], " "))
			f.Close()
		}
	}
	if os.Getenv("FAKE_SBX_DOWN") == "1" {
		fail("Error: cannot connect to the sandboxd daemon")
	}
	args := os.Args[1:]
	if len(args) == 0 {
		fail("the interactive dashboard needs a terminal")
	}
	// One sbx call at a time changes the state, as with sbx's daemon
	// (an exec lets go once it has marked the sandbox running).
	unlock := lockState()
	m := load()
	saved := false
	defer func() {
		if !saved {
			save(m)
		}
		unlock()
	}()
	switch args[0] {
	case "version":
		v := os.Getenv("FAKE_SBX_VERSION")
		if v == "" {
			v = "v0.46.0"
		}
		fmt.Printf("sbx version: %s def8cb0523a77e757bdd6ef52b459fe374f3783e\n", v)
	case "ls":
		if os.Getenv("FAKE_SBX_BANNER") == "1" {
			fmt.Println("Starting sandboxd daemon...\nDaemon started (PID: 4242, socket: /tmp/sandboxd.sock)")
		}
		if len(args) > 1 && args[1] == "-q" {
			for n := range m {
				fmt.Println(n)
			}
			return
		}
		list := []*box{}
		for _, b := range m {
			list = append(list, b)
		}
		json.NewEncoder(os.Stdout).Encode(map[string]any{"sandboxes": list})
	case "create":
		name, rest := "", []string{}
		for i := 1; i < len(args); i++ {
			switch args[i] {
			case "--name", "--memory", "-m", "--cpus", "-t", "--template":
				if args[i] == "--name" {
					name = args[i+1]
				}
				i++
			default:
				rest = append(rest, args[i])
			}
		}
		if len(rest) < 1 {
			fail("ERROR: requires at least 1 arg(s)")
		}
		switch rest[0] {
		case "claude", "codex", "copilot", "cursor", "gemini", "opencode", "shell", "docker-agent":
		default:
			fail("unknown agent %q", rest[0])
		}
		if name == "" {
			name = rest[0] + "-workspace"
		}
		if _, ok := m[name]; ok {
			fail("ERROR: sandbox %q already exists for this workspace; use 'sbx run --name %s' to start it, or pass --name to create another", name, name)
		}
		m[name] = &box{Name: name, Agent: rest[0], Status: "running", Workspaces: rest[1:]}
		fmt.Printf("✓ Created sandbox '%s'\n  Workspace: %s (direct mount)\n  Agent: %s\n", name, strings.Join(rest[1:], ","), rest[0])
	case "secret":
		// secret set SERVICE --sandbox NAME, the value on stdin (a value
		// as an argument, -t, is refused here: ralph must never use it).
		if len(args) < 5 || args[1] != "set" || args[3] != "--sandbox" {
			fail("fake sbx: only `secret set SERVICE --sandbox NAME` (value on stdin) is faked, got %q", args)
		}
		if _, ok := sentinels[args[2]]; !ok {
			fail("Error: unknown service %q", args[2])
		}
		b, ok := m[args[4]]
		if !ok {
			fail("Error: sandbox '%s' not found", args[4])
		}
		v, _ := io.ReadAll(io.LimitReader(os.Stdin, 1<<16))
		val := strings.TrimSpace(string(v))
		if val == "" {
			fail("Error: empty secret")
		}
		if b.Secrets == nil {
			b.Secrets = map[string]string{}
		}
		b.Secrets[args[2]] = val
		fmt.Printf("✓ Secret %s set for sandbox %s\n", args[2], args[4])
	case "exec":
		env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
		i := 1
		for ; i < len(args); i++ {
			switch a := args[i]; {
			case a == "-i" || a == "-t" || a == "-it":
			case a == "-e" || a == "--env":
				i++
				k, v, ok := strings.Cut(args[i], "=")
				if !ok {
					v = os.Getenv(k) // bare -e K copies the caller's value
				}
				env = append(env, k+"="+v)
			case a == "-d":
				fail("--detach is not supported for exec; omit -d to run the command in the foreground")
			default:
				goto name
			}
		}
	name:
		if i >= len(args) {
			fail("ERROR: requires at least 2 arg(s)")
		}
		b, ok := m[args[i]]
		if !ok {
			fail("Error: sandbox '%s' not found", args[i])
		}
		for svc := range b.Secrets {
			env = append(env, sentinels[svc]+"=proxy-managed")
		}
		b.Status = "running" // exec starts a stopped sandbox
		save(m)
		saved = true
		unlock()
		cmdArgs := args[i+1:]
		if len(cmdArgs) > 0 && cmdArgs[0] == "--" {
			cmdArgs = cmdArgs[1:]
		}
		cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
		cmd.Env = env
		if len(b.Workspaces) > 0 {
			cmd.Dir = b.Workspaces[0]
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				save(m)
				os.Exit(ee.ExitCode())
			}
			fail("exec: %v", err)
		}
	case "stop":
		for _, n := range args[1:] {
			b, ok := m[n]
			if !ok {
				fail("Error: sandbox '%s' not found", n)
			}
			b.Status = "stopped"
		}
	case "rm":
		force := false
		var names []string
		for _, a := range args[1:] {
			if a == "-f" || a == "--force" {
				force = true
			} else {
				names = append(names, a)
			}
		}
		if !force {
			fail("stdin is not a terminal; use --force to skip confirmation")
		}
		for _, n := range names {
			if _, ok := m[n]; !ok {
				fail("Error: sandbox '%s' not found", n)
			}
			delete(m, n)
		}
	case "policy":
		fmt.Println("Policy added: 6f1c2a7e-0000-4000-8000-000000000001 (" + strings.Join(args[3:], " ") + ")")
	default:
		fail("unknown command %q for \"sbx\"", args[0])
	}
}
