// Package policy is the network gate's rule language, pure and without
// I/O: host patterns with an optional port, IP and CIDR rules, compiled
// into maps keyed by name so a decision costs a few lookups whatever the
// number of rules. Deny beats allow whatever the specificity; nothing
// matched means deny.
//
//	example.com        that host only
//	*.example.com      exactly one label below, not the bare domain
//	**.example.com     any depth below, not the bare domain
//	**                 every name (not IP literals: those need IP rules)
//	host:443           that port only
//	203.0.113.7:5432   an address (and port)
//	198.51.100.0/24    a network
package policy

import (
	"fmt"
	"net/netip"
	"strings"
)

// Action is what a rule does.
type Action string

const (
	Allow Action = "allow"
	Deny  Action = "deny"
)

type kind int

const (
	exact kind = iota
	oneLabel
	anyDepth
	everything
	network
)

// Rule is one parsed pattern.
type Rule struct {
	Action  Action `json:"action"`
	Pattern string `json:"pattern"`
	// Source says where the rule comes from ("global", the sandbox name,
	// "agent claude"), for decisions and listings.
	Source string `json:"source,omitempty"`

	kind   kind
	name   string // exact: the host; oneLabel/anyDepth: the parent domain
	port   int    // 0: any
	prefix netip.Prefix
}

// SplitList splits a comma-separated list of patterns.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseRule parses one pattern.
func ParseRule(a Action, pattern, source string) (Rule, error) {
	if a != Allow && a != Deny {
		return Rule{}, fmt.Errorf("%w: action %q", ErrInvalid, a)
	}
	if err := plain(pattern); err != nil {
		return Rule{}, err
	}
	r := Rule{Action: a, Source: source}
	if pfx, err := netip.ParsePrefix(pattern); err == nil {
		r.kind, r.prefix = network, pfx.Masked()
		r.Pattern = r.prefix.String()
		return r, nil
	}
	hostPart, port, err := SplitHostPort(pattern)
	if err != nil {
		return Rule{}, err
	}
	r.port = port
	portSuffix := ""
	if port != 0 {
		portSuffix = fmt.Sprintf(":%d", port)
	}
	switch {
	case hostPart == "**":
		r.kind, r.Pattern = everything, "**"+portSuffix
		return r, nil
	case strings.HasPrefix(hostPart, "**."):
		r.kind, hostPart = anyDepth, hostPart[3:]
	case strings.HasPrefix(hostPart, "*."):
		r.kind, hostPart = oneLabel, hostPart[2:]
	}
	if strings.Contains(hostPart, "*") {
		return Rule{}, fmt.Errorf("%w: %q: a wildcard is only allowed as the whole first label (*. or **.) or as **", ErrInvalid, pattern)
	}
	h, err := ParseHost(hostPart)
	if err != nil {
		return Rule{}, fmt.Errorf("%w: pattern %q", err, pattern)
	}
	if h.IP.IsValid() {
		if r.kind != exact {
			return Rule{}, fmt.Errorf("%w: %q: no wildcard on an address; use a CIDR", ErrInvalid, pattern)
		}
		r.kind, r.prefix = network, netip.PrefixFrom(h.IP, h.IP.BitLen())
		if h.IP.Is6() {
			r.Pattern = "[" + h.IP.String() + "]" + portSuffix
		} else {
			r.Pattern = h.IP.String() + portSuffix
		}
		return r, nil
	}
	r.name = h.Name
	r.Pattern = map[kind]string{exact: "", oneLabel: "*.", anyDepth: "**."}[r.kind] + h.Name + portSuffix
	return r, nil
}

// Port is the port the rule names, or 0 when it names none (any port).
func (r *Rule) Port() int { return r.port }

// Decision is the outcome for one destination.
type Decision struct {
	Allowed bool
	// Rule is the rule that decided, or nil when nothing matched.
	Rule *Rule
}

// Reason describes the decision in words.
func (d Decision) Reason() string {
	if d.Rule == nil {
		return "no rule allows it (deny by default)"
	}
	src := ""
	if d.Rule.Source != "" {
		src = " (" + d.Rule.Source + ")"
	}
	return string(d.Rule.Action) + " " + d.Rule.Pattern + src
}

// Policy is a compiled rule set. It is immutable and safe for concurrent use.
type Policy struct {
	exact, one, any map[string][]*Rule
	all, nets       []*Rule
	n               int
}

// Compile builds a Policy from rules.
func Compile(rules []Rule) *Policy {
	p := &Policy{exact: map[string][]*Rule{}, one: map[string][]*Rule{}, any: map[string][]*Rule{}, n: len(rules)}
	for i := range rules {
		r := &rules[i]
		switch r.kind {
		case exact:
			p.exact[r.name] = append(p.exact[r.name], r)
		case oneLabel:
			p.one[r.name] = append(p.one[r.name], r)
		case anyDepth:
			p.any[r.name] = append(p.any[r.name], r)
		case everything:
			p.all = append(p.all, r)
		case network:
			p.nets = append(p.nets, r)
		}
	}
	return p
}

// Len is the number of rules.
func (p *Policy) Len() int { return p.n }

// Decide returns the decision for host and port. Deny beats allow.
func (p *Policy) Decide(h Host, port int) Decision {
	var allow, deny *Rule
	see := func(rs []*Rule) {
		for _, r := range rs {
			if r.port != 0 && r.port != port {
				continue
			}
			if r.Action == Deny {
				if deny == nil {
					deny = r
				}
			} else if allow == nil || (allow.port == 0 && r.port != 0) {
				allow = r // a rule that names the port is the more specific
			}
		}
	}
	if h.IP.IsValid() {
		for _, r := range p.nets {
			if r.prefix.Contains(h.IP) {
				see([]*Rule{r})
			}
		}
	} else {
		name := h.Name
		see(p.exact[name])
		if i := strings.IndexByte(name, '.'); i >= 0 {
			see(p.one[name[i+1:]])
		}
		for rest := name; ; {
			i := strings.IndexByte(rest, '.')
			if i < 0 {
				break
			}
			rest = rest[i+1:]
			see(p.any[rest])
		}
		see(p.all)
	}
	switch {
	case deny != nil:
		return Decision{Allowed: false, Rule: deny}
	case allow != nil:
		return Decision{Allowed: true, Rule: allow}
	}
	return Decision{}
}

// AllowsAddr reports whether an explicit IP or CIDR rule allows addr
// (and none denies it): the only way to reach a private, loopback or
// metadata address through the gate.
func (p *Policy) AllowsAddr(a netip.Addr, port int) bool {
	return p.Decide(Host{IP: a}, port).Allowed
}
