package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrInvalid marks a host or pattern that is not acceptable.
var ErrInvalid = errors.New("invalid host")

// Host is a requested destination in canonical form: either a DNS name
// (lower case, no trailing dot, punycode) or an IP address.
type Host struct {
	Name string     // set for names
	IP   netip.Addr // set for IP literals, in any spelling
}

func (h Host) String() string {
	if h.IP.IsValid() {
		return h.IP.String()
	}
	return h.Name
}

var profile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false))

// ParseHost canonicalizes a requested host. An IP literal in any spelling
// (dotted, decimal, octal, hex, short forms, bracketed IPv6, IPv4-mapped
// IPv6) is an IP, never a name; a name whose last label is numeric is
// refused, so no spelling of an address can pass as a name.
func ParseHost(s string) (Host, error) {
	if err := plain(s); err != nil {
		return Host{}, err
	}
	t := strings.TrimSuffix(s, ".")
	if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
		a, err := netip.ParseAddr(t[1 : len(t)-1])
		if err != nil || !a.Is6() {
			return Host{}, fmt.Errorf("%w: %q", ErrInvalid, s)
		}
		return Host{IP: a.Unmap().WithZone("")}, nil
	}
	if a, err := netip.ParseAddr(t); err == nil {
		return Host{IP: a.Unmap().WithZone("")}, nil
	}
	if a, ok := parseInetAton(t); ok {
		return Host{IP: a}, nil
	}
	name, err := canonicalName(t)
	if err != nil {
		return Host{}, fmt.Errorf("%w: %q: %v", ErrInvalid, s, err)
	}
	labels := strings.Split(name, ".")
	if last := labels[len(labels)-1]; isNumeric(last) {
		return Host{}, fmt.Errorf("%w: %q looks like an address but is not one", ErrInvalid, s)
	}
	return Host{Name: name}, nil
}

// plain refuses NUL bytes, whitespace and control characters.
func plain(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrInvalid)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalid, s)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%w: %q holds a control or space character", ErrInvalid, s)
		}
	}
	return nil
}

// canonicalName lower-cases, maps to punycode and checks the lengths.
func canonicalName(s string) (string, error) {
	a, err := profile.ToASCII(s)
	if err != nil {
		return "", err
	}
	a = strings.ToLower(a)
	if again, err := profile.ToASCII(a); err != nil || again != a {
		return "", errors.New("not a valid internationalized name")
	}
	if len(a) > 253 {
		return "", errors.New("name longer than 253 bytes")
	}
	for _, l := range strings.Split(a, ".") {
		switch {
		case l == "":
			return "", errors.New("empty label")
		case len(l) > 63:
			return "", errors.New("label longer than 63 bytes")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("character %q not allowed", c)
			}
		}
	}
	return a, nil
}

func isNumeric(l string) bool {
	if l == "" {
		return false
	}
	if strings.HasPrefix(l, "0x") {
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

// parseInetAton parses the IPv4 spellings inet_aton accepts: 1 to 4
// parts, each decimal, octal (leading 0) or hex (0x), the last part
// filling the remaining bytes.
func parseInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base, digits := 10, p
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, digits = 16, p[2:]
			if digits == "" {
				digits = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		v, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var out uint64
	n := len(vals)
	for i := 0; i < n-1; i++ {
		if vals[i] > 0xff {
			return netip.Addr{}, false
		}
		out |= vals[i] << (8 * (3 - i))
	}
	last := vals[n-1]
	if last >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	out |= last
	return netip.AddrFrom4([4]byte{byte(out >> 24), byte(out >> 16), byte(out >> 8), byte(out)}), true
}

// SplitHostPort splits HOST[:PORT]; brackets hold an IPv6 address. port
// is 0 when absent.
func SplitHostPort(s string) (string, int, error) {
	host, portStr := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", 0, fmt.Errorf("%w: %q: missing ]", ErrInvalid, s)
		}
		host, portStr = s[:end+1], strings.TrimPrefix(s[end+1:], ":")
		if s[end+1:] != "" && !strings.HasPrefix(s[end+1:], ":") {
			return "", 0, fmt.Errorf("%w: %q", ErrInvalid, s)
		}
	} else if i := strings.LastIndex(s, ":"); i >= 0 {
		if strings.Count(s, ":") > 1 {
			return s, 0, nil // a bare IPv6 address
		}
		host, portStr = s[:i], s[i+1:]
	}
	if portStr == "" {
		if strings.HasSuffix(s, ":") {
			return "", 0, fmt.Errorf("%w: %q: empty port", ErrInvalid, s)
		}
		return host, 0, nil
	}
	p, err := strconv.Atoi(portStr)
	if err != nil || p < 1 || p > 65535 {
		return "", 0, fmt.Errorf("%w: %q: bad port", ErrInvalid, s)
	}
	return host, p, nil
}
