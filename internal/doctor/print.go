package doctor

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Print writes the report as tables, for a person.
func Print(w io.Writer, rep Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tFOUND\tUSABLE\tBOUNDARY\tVERSION\tNOTE")
	var auto *Backend
	for i, r := range rep.Backends {
		note := r.Problem
		if note == "" {
			note = r.Image
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, yesNo(r.Found), yesNo(r.Usable), r.Boundary, orDash(r.Version), note)
		if r.Name == rep.Auto {
			auto = &rep.Backends[i]
		}
	}
	tw.Flush()
	if auto != nil {
		fmt.Fprintf(w, "\n--sandbox auto picks %s. Network gate: %s.\nLimits: %s.\nDisk: %s.\nGit: %s.\n", rep.Auto, auto.Gate, auto.Limits, auto.Disk, auto.Git)
	} else {
		fmt.Fprintln(w, "\nNo isolating backend is usable: ralph will not run an agent here (it never falls back to the host).")
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tCLI ON HOST\tCLI IN ITS IMAGE\tCLI IN HOST-FILE SANDBOXES\tCREDENTIALS")
	for _, a := range rep.Agents {
		var seen []string
		for _, name := range sortedKeys(a.InSandbox) {
			v := a.InSandbox[name]
			if v != "yes" {
				v = "no"
			}
			seen = append(seen, name+": "+v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, yesNo(a.OnHost), a.Image+": "+a.InImage, orDash(strings.Join(seen, ", ")), orDash(credentials(a)))
	}
	tw.Flush()
	for _, s := range rep.GitSecrets {
		fmt.Fprintf(w, "git: secret %s: added by the gate to git's fetch and push (every agent; not on host or sbx)\n", s)
	}
	for _, a := range rep.Agents {
		for _, name := range sortedKeys(a.InSandbox) {
			if v := a.InSandbox[name]; v != "yes" && a.OnHost {
				fmt.Fprintf(w, "%s: on this host but not in %s sandboxes: %s\n", a.Name, name, strings.TrimPrefix(v, "no: "))
			}
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// credentials says how each of the agent's credentials reaches its API:
// a stored secret is added by the gate; a variable set here is passed
// into the sandbox.
func credentials(a Agent) string {
	var out []string
	for _, s := range a.Secrets {
		out = append(out, "secret "+s+": added by the gate")
	}
	if len(a.KeysSet) > 0 {
		out = append(out, strings.Join(a.KeysSet, ", ")+": passed in")
	}
	return strings.Join(out, "; ")
}
