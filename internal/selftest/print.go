package selftest

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/ralphloop/ralph/internal/termsafe"
)

// Print writes a report as a table, for a person.
func Print(w io.Writer, rep Report) {
	fmt.Fprintf(w, "\n%s (%s)\n", rep.Backend, rep.Boundary)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tPROPERTY\tRESULT\tWHAT WAS TRIED")
	for _, r := range rep.Results {
		// The probe ran as the agent: its words are escaped like any
		// agent's, and the property is named by ralph's own table.
		tried := termsafe.Line(r.Tried)
		if len(tried) > 90 {
			tried = tried[:87] + "..."
		}
		prop := Properties[r.ID]
		if prop == "" {
			prop = termsafe.Line(r.Property)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.ID, prop, termsafe.Line(string(r.Status)), tried)
		if r.Detail != "" {
			fmt.Fprintf(tw, "\t\t\t  %s\n", termsafe.Line(r.Detail))
		}
	}
	tw.Flush()
	if rep.OK {
		fmt.Fprintln(w, "every property held")
	} else {
		fmt.Fprintln(w, "some properties FAILED")
	}
}
