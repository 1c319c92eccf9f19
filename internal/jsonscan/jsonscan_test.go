package jsonscan

import (
	"encoding/json"
	"testing"
)

func TestFieldsAndStrings(t *testing.T) {
	line := []byte(` {"type" : "user", "n": 12 ,"message":{"content":[{"type":"tool_result","content":"a\nb \"q\" \\ \u00e9 \/"},{"x":[1,{"y":"]"}]}]}, "t":true}`)
	if v, ok := TopString(line, "type"); !ok || v != "user" {
		t.Errorf("type = %q %v", v, ok)
	}
	msg, ok := Field(line, "message")
	if !ok {
		t.Fatal("no message")
	}
	content, _ := Field(msg, "content")
	var elems []string
	if !Array(content, func(v []byte) bool { elems = append(elems, string(v)); return true }) || len(elems) != 2 {
		t.Fatalf("elements %q", elems)
	}
	raw, _ := Field([]byte(elems[0]), "content")
	got, ok := String(raw)
	var want string
	json.Unmarshal(raw, &want)
	if !ok || got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if v, ok := Field(line, "t"); !ok || string(v) != "true" {
		t.Errorf("t = %q", v)
	}
	for _, bad := range []string{``, `{`, `{"a"}`, `{"a":}`, `{"a":"b"`, `[1,`, `{"a":1 "b":2}`, `"x`, `{"a":"\`} {
		Object([]byte(bad), func(k, v []byte) bool { return true })
		Array([]byte(bad), func(v []byte) bool { return true })
		String([]byte(bad))
	}
	if Object([]byte(`{"a":1 "b":2}`), func(k, v []byte) bool { return true }) {
		t.Error("a missing comma walked")
	}
}

// FuzzString: String agrees with encoding/json on every JSON string it
// accepts, and never panics on anything.
func FuzzString(f *testing.F) {
	for _, s := range []string{`"a"`, `"a\nb"`, `"\u00e9\""`, `"\\"`, `"\x"`, "\"\xff\"", `"a\`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := String(b)
		var want string
		err := json.Unmarshal(b, &want)
		if ok && err == nil && got != want {
			t.Errorf("String(%q) = %q, encoding/json %q", b, got, want)
		}
		if err == nil && !ok && len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
			t.Errorf("String(%q) refused what encoding/json reads", b)
		}
	})
}
