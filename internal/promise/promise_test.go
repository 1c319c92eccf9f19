package promise

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want Promise
	}{
		{"empty", "", Promise{}},
		{"complete", "All done.\n\n<promise>COMPLETE</promise>", Promise{Kind: Complete}},
		{"blocked", "<promise>BLOCKED:no database credentials</promise>", Promise{Kind: Blocked, Text: "no database credentials"}},
		{"blocked trimmed", "<promise>BLOCKED:  wait  </promise>", Promise{Kind: Blocked, Text: "wait"}},
		{"decide", "<promise>DECIDE:Postgres or SQLite?</promise>", Promise{Kind: Decide, Text: "Postgres or SQLite?"}},
		{"blocked empty reason", "<promise>BLOCKED:</promise>", Promise{}},
		{"blocked blank reason", "<promise>BLOCKED:   </promise>", Promise{}},
		{"decide empty", "<promise>DECIDE:</promise>", Promise{}},
		{"lower case", "<promise>complete</promise>", Promise{}},
		{"space inside", "<promise> COMPLETE </promise>", Promise{}},
		{"partial open", "<promise>COMPLETE", Promise{}},
		{"partial close", "COMPLETE</promise>", Promise{}},
		{"unknown kind", "<promise>DONE</promise>", Promise{}},
		{"nested tag", "<promise><promise>COMPLETE</promise>", Promise{Kind: Complete}},
		{"inline code", "Emit `<promise>COMPLETE</promise>` when done.", Promise{}},
		{"double backtick inline", "Use ``<promise>COMPLETE</promise>`` here", Promise{}},
		{"fenced", "Example:\n```\n<promise>COMPLETE</promise>\n```\nnot yet", Promise{}},
		{"fenced tilde", "~~~md\n<promise>COMPLETE</promise>\n~~~\n", Promise{}},
		{"unclosed fence", "```\n<promise>COMPLETE</promise>\n", Promise{}},
		{"after fence", "```\ncode\n```\n<promise>COMPLETE</promise>", Promise{Kind: Complete}},
		{"unmatched backtick is literal", "a ` b <promise>COMPLETE</promise>", Promise{Kind: Complete}},
		{"blocked beats complete", "<promise>COMPLETE</promise>\n<promise>BLOCKED:x</promise>", Promise{Kind: Blocked, Text: "x"}},
		{"decide beats complete", "<promise>DECIDE:q</promise> <promise>COMPLETE</promise>", Promise{Kind: Decide, Text: "q"}},
		{"blocked beats decide", "<promise>DECIDE:q</promise> <promise>BLOCKED:r</promise>", Promise{Kind: Blocked, Text: "r"}},
		{"fenced blocked does not win", "```\n<promise>BLOCKED:x</promise>\n```\n<promise>COMPLETE</promise>", Promise{Kind: Complete}},
		{"reason with code span", "<promise>BLOCKED:need `DB_URL`</promise>", Promise{Kind: Blocked, Text: "need `DB_URL`"}},
		{"close tag in code", "<promise>COMPLETE`</promise>`", Promise{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(tt.msg)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.msg, diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"<promise>COMPLETE</promise>",
		"`<promise>COMPLETE</promise>`",
		"```\n<promise>BLOCKED:x</promise>\n```",
		"<promise>DECIDE: why </promise>",
		"~~~\n```\n<promise>COMPLETE</promise>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		p := Parse(msg)
		switch p.Kind {
		case None:
			return
		case Complete:
			if !strings.Contains(msg, "<promise>COMPLETE</promise>") {
				t.Fatalf("COMPLETE without the literal tag in %q", msg)
			}
		case Blocked, Decide:
			if p.Text == "" || p.Text != strings.TrimSpace(p.Text) {
				t.Fatalf("bad text %q", p.Text)
			}
			if !strings.Contains(msg, "<promise>"+p.Kind.String()+":") {
				t.Fatalf("%v without its tag in %q", p.Kind, msg)
			}
		}
		// Wrapping the whole message in a fence never yields a promise.
		if strings.Contains(msg, "````````````````") {
			return
		}
		fenced := "````````````````\n" + msg
		if got := Parse(fenced); got.Kind != None {
			t.Fatalf("promise %v found inside an unclosed fence: %q", got, fenced)
		}
	})
}
