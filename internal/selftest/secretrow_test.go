package selftest

import (
	"strings"
	"testing"
)

func TestKeyVerdict(t *testing.T) {
	const key = "ralph-selftest-key-0123456789abcdef"
	route := "POST /secret-route HTTP/1.1\r\nHost: localhost:1\r\nX-Api-Key: " + key + "\r\n\r\n{}"
	for _, tc := range []struct {
		name, received string
		gated          bool
		want           string
	}{
		{"the key on its route only", route, true, Held},
		{"the key carried elsewhere too", route + "POST /elsewhere HTTP/1.1\r\nHost: localhost:1\r\nX-Api-Key: " + key + "\r\n\r\n", true, Failed},
		{"the key in another request's body", route + "GET /x HTTP/1.1\r\nHost: h\r\n\r\nleak=" + key, true, Failed},
		{"the route's request without the key", strings.ReplaceAll(route, key, "ralph-secret-placeholder-selftest"), true, Failed},
		{"no gate", "", false, Failed},
	} {
		rs := []Result{{ID: 16, Status: Held}}
		keyVerdict(rs, tc.received, key, tc.gated)
		if rs[0].Status != tc.want {
			t.Errorf("%s: %s (%s), want %s", tc.name, rs[0].Status, rs[0].Detail, tc.want)
		}
	}
}
