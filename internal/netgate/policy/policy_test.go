package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func TestParseHost(t *testing.T) {
	ok := map[string]string{
		"Example.COM.":                 "example.com",
		"bücher.de":                    "xn--bcher-kva.de",
		"a-b_c.example.com":            "a-b_c.example.com",
		"127.0.0.1":                    "127.0.0.1",
		"2130706433":                   "127.0.0.1",
		"0x7f000001":                   "127.0.0.1",
		"0177.0.0.1":                   "127.0.0.1",
		"0x7f.1":                       "127.0.0.1",
		"127.1":                        "127.0.0.1",
		"169.254.43518":                "169.254.169.254",
		"[::1]":                        "::1",
		"::1":                          "::1",
		"[::ffff:127.0.0.1]":           "127.0.0.1",
		"::ffff:a9fe:a9fe":             "169.254.169.254",
		"[fd00:ec2::254]":              "fd00:ec2::254",
		"10.0.0.1.":                    "10.0.0.1",
		"xn--bcher-kva.de":             "xn--bcher-kva.de",
		"api.anthropic.com":            "api.anthropic.com",
		"0":                            "0.0.0.0",
		"0x0":                          "0.0.0.0",
		"localhost":                    "localhost",
		"a." + strings.Repeat("b", 63): "a." + strings.Repeat("b", 63),
	}
	for in, want := range ok {
		h, err := ParseHost(in)
		if err != nil {
			t.Errorf("ParseHost(%q): %v", in, err)
			continue
		}
		if h.String() != want {
			t.Errorf("ParseHost(%q) = %q, want %q", in, h, want)
		}
	}
	for _, in := range []string{
		"", "a..b", ".a", "a b", "a\x00b", "a\tb", "a\nb", strings.Repeat("a", 64) + ".com",
		strings.Repeat("abcdefghi.", 26) + "com", "1.2.3.4.5", "foo.123", "foo.0x1f", "256.1.1.1",
		"a/b", "[1.2.3.4]", "[::1", "exa$mple.com", "*.example.com",
	} {
		if h, err := ParseHost(in); err == nil {
			t.Errorf("ParseHost(%q) = %q, want an error", in, h)
		}
	}
}

func mustRule(t testing.TB, a Action, p string) Rule {
	t.Helper()
	r, err := ParseRule(a, p, "test")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func decide(t testing.TB, p *Policy, hostport string) Decision {
	t.Helper()
	hs, port, err := SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHost(hs)
	if err != nil {
		t.Fatal(err)
	}
	if port == 0 {
		port = 443
	}
	return p.Decide(h, port)
}

func TestDecide(t *testing.T) {
	p := Compile([]Rule{
		mustRule(t, Allow, "github.com"),
		mustRule(t, Allow, "*.npmjs.org"),
		mustRule(t, Allow, "**.googleapis.com"),
		mustRule(t, Allow, "db.internal.test:5432"),
		mustRule(t, Allow, "203.0.113.7:5432"),
		mustRule(t, Allow, "198.51.100.0/24"),
		mustRule(t, Allow, "**.evil.test"),
		mustRule(t, Deny, "exfil.evil.test"),
		mustRule(t, Deny, "198.51.100.66"),
	})
	tests := []struct {
		host string
		want bool
	}{
		{"github.com", true},
		{"GitHub.com.", true},
		{"api.github.com", false},
		{"registry.npmjs.org", true},
		{"npmjs.org", false},
		{"a.b.npmjs.org", false},
		{"storage.googleapis.com", true},
		{"a.b.c.googleapis.com", true},
		{"googleapis.com", false},
		{"db.internal.test:5432", true},
		{"db.internal.test:443", false},
		{"203.0.113.7:5432", true},
		{"203.0.113.7:22", false},
		{"198.51.100.9", true},
		{"198.51.100.66", false},
		{"x.evil.test", true},
		{"exfil.evil.test", false},
		{"example.com", false},
		{"2130706433", false},
	}
	for _, tt := range tests {
		if got := decide(t, p, tt.host); got.Allowed != tt.want {
			t.Errorf("%s: allowed=%v (%s), want %v", tt.host, got.Allowed, got.Reason(), tt.want)
		}
	}
	if d := decide(t, p, "exfil.evil.test"); d.Rule == nil || d.Rule.Pattern != "exfil.evil.test" {
		t.Errorf("deny reason = %s", d.Reason())
	}
}

func TestEverything(t *testing.T) {
	p := Compile([]Rule{mustRule(t, Allow, "**"), mustRule(t, Deny, "*.evil.test")})
	if !decide(t, p, "anything.example").Allowed || decide(t, p, "a.evil.test").Allowed {
		t.Error("** with a deny")
	}
	if decide(t, p, "10.0.0.1").Allowed {
		t.Error("** allowed an IP literal")
	}
}

func TestParseRuleErrors(t *testing.T) {
	for _, p := range []string{"", "a*.com", "*", "***.com", "ex ample.com", "*.1.2.3.4", "host:0", "host:99999", "host:", "a..com", "*.", "**."} {
		if _, err := ParseRule(Allow, p, ""); err == nil {
			t.Errorf("ParseRule(%q) accepted", p)
		}
	}
	if r := mustRule(t, Allow, "*.Bücher.DE:443"); r.Pattern != "*.xn--bcher-kva.de:443" {
		t.Errorf("canonical pattern %q", r.Pattern)
	}
}

// TestProperties checks the matcher's laws on random names.
func TestProperties(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	label := func() string { return fmt.Sprintf("l%d", rnd.IntN(5)) }
	for i := 0; i < 2000; i++ {
		depth := 1 + rnd.IntN(4)
		parts := make([]string, depth)
		for j := range parts {
			parts[j] = label()
		}
		base := "example.test"
		name := strings.Join(parts, ".") + "." + base
		h, _ := ParseHost(name)
		one := Compile([]Rule{mustRule(t, Allow, "*."+base)})
		any := Compile([]Rule{mustRule(t, Allow, "**."+base)})
		if got := one.Decide(h, 443).Allowed; got != (depth == 1) {
			t.Fatalf("*.%s on %s: %v", base, name, got)
		}
		if !any.Decide(h, 443).Allowed {
			t.Fatalf("**.%s refused %s", base, name)
		}
		bare, _ := ParseHost(base)
		if one.Decide(bare, 443).Allowed || any.Decide(bare, 443).Allowed {
			t.Fatal("the bare domain matched a wildcard")
		}
		// Deny beats allow whatever the specificity.
		denyWide := Compile([]Rule{mustRule(t, Allow, name), mustRule(t, Deny, "**")})
		if denyWide.Decide(h, 443).Allowed {
			t.Fatal("an exact allow beat a ** deny")
		}
		denyExact := Compile([]Rule{mustRule(t, Deny, name), mustRule(t, Allow, "**")})
		if denyExact.Decide(h, 443).Allowed {
			t.Fatal("a ** allow beat an exact deny")
		}
	}
}

func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"example.com", "0x7f.1", "[::1]", "bücher.de", "a..b", "2130706433"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHost(s)
		if err != nil {
			return
		}
		if h.IP.IsValid() == (h.Name != "") {
			t.Fatalf("%q: both or neither of name and IP", s)
		}
		if h.Name != "" {
			if len(h.Name) > 253 || strings.ContainsAny(h.Name, " \x00\t\n*") || h.Name != strings.ToLower(h.Name) {
				t.Fatalf("%q: bad canonical name %q", s, h.Name)
			}
			again, err := ParseHost(h.Name)
			if err != nil || again != h {
				t.Fatalf("%q: canonical form %q not stable: %v %v", s, h.Name, again, err)
			}
			if _, ok := parseInetAton(h.Name); ok {
				t.Fatalf("%q: name %q is an address spelling", s, h.Name)
			}
		}
	})
}

func FuzzRules(f *testing.F) {
	f.Add("*.example.com", "a.example.com")
	f.Add("**.example.com", "example.com")
	f.Add("10.0.0.0/8", "10.1.2.3")
	f.Fuzz(func(t *testing.T, pattern, host string) {
		r, err := ParseRule(Allow, pattern, "")
		if err != nil {
			return
		}
		h, err := ParseHost(host)
		if err != nil {
			return
		}
		deny := r
		deny.Action = Deny
		p := Compile([]Rule{r, deny})
		if p.Decide(h, 443).Allowed {
			t.Fatalf("allow and deny of %q: allowed %q", pattern, host)
		}
		if Compile(nil).Decide(h, 443).Allowed {
			t.Fatal("empty policy allowed")
		}
	})
}

// BenchmarkDecide: 10,000 rules, mixed names. Goal: 5 million decisions a
// second (200 ns each).
func BenchmarkDecide(b *testing.B) {
	var rules []Rule
	for i := 0; i < 10000; i++ {
		var p string
		switch i % 3 {
		case 0:
			p = fmt.Sprintf("host%d.example%d.com", i, i%97)
		case 1:
			p = fmt.Sprintf("*.svc%d.example.net", i)
		default:
			p = fmt.Sprintf("**.zone%d.example.org", i)
		}
		a := Allow
		if i%10 == 0 {
			a = Deny
		}
		r, _ := ParseRule(a, p, "")
		rules = append(rules, r)
	}
	p := Compile(rules)
	var hosts []Host
	for _, s := range []string{"host3.example3.com", "api.svc4.example.net", "a.b.c.zone5.example.org", "unknown.example.com", "github.com"} {
		h, _ := ParseHost(s)
		hosts = append(hosts, h)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Decide(hosts[i%len(hosts)], 443)
		i++
	}
	_ = netip.Addr{}
}

// TestPortRuleIsPreferred: among allows, the rule that names the port
// decides (the gate carries non-TLS tunnels only under such a rule).
func TestPortRuleIsPreferred(t *testing.T) {
	var rs []Rule
	for _, p := range []string{"**", "example.com", "example.com:22"} {
		r, err := ParseRule(Allow, p, "test")
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	h, _ := ParseHost("example.com")
	d := Compile(rs).Decide(h, 22)
	if !d.Allowed || d.Rule.Port() != 22 {
		t.Errorf("Decide(example.com:22) = %v, want the :22 rule", d.Reason())
	}
	if d := Compile(rs).Decide(h, 443); !d.Allowed || d.Rule.Port() != 0 {
		t.Errorf("Decide(example.com:443) = %v", d.Reason())
	}
}
