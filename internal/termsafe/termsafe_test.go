package termsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, ünïcödé ✓", "plain text, ünïcödé ✓"},
		{"two\nlines\tand a tab", "two\nlines\tand a tab"},
		{"clip \x1b]52;c;ZXZpbA==\x07 board", `clip \x1b]52;c;ZXZpbA==\x07 board`},
		{"title \x1b]0;pwned\x1b\\", `title \x1b]0;pwned\x1b\`},
		{"forge \x1b[2K\rralph: COMPLETE", `forge \x1b[2K\x0dralph: COMPLETE`},
		{"c1 \u009b31m csi", `c1 \u009b31m csi`},
		{"bidi \u202eevil\u202c", `bidi \u202eevil\u202c`},
		{"bad utf8 \xff\xfe", `bad utf8 \xff\xfe`},
		{"del \x7f", `del \x7f`},
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Line("a\nb\tc\x1b"); got != `a\nb\tc\x1b` {
		t.Errorf("Line = %q", got)
	}
}

func TestWriter(t *testing.T) {
	var b strings.Builder
	w := &Writer{W: &b}
	for _, chunk := range []string{"ok\n\x1b]5", "2;c;x\x07\npartial\x1b"} {
		w.Write([]byte(chunk))
	}
	w.Close()
	if want := "ok\n\\x1b]52;c;x\\x07\npartial\\x1b"; b.String() != want {
		t.Errorf("Writer wrote %q, want %q", b.String(), want)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "a\x1b[31mb", "\u202e", "\xff", "\u009b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		if !utf8.ValidString(out) {
			t.Fatalf("String(%q) = %q: not valid UTF-8", s, out)
		}
		for _, r := range out {
			if unsafe(r) {
				t.Fatalf("String(%q) = %q keeps %U", s, out, r)
			}
		}
	})
}
