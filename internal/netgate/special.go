package netgate

import "net/netip"

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")
	metadata  = []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}
	compat    = netip.MustParsePrefix("::/96")           // IPv4-compatible (deprecated): ::a.b.c.d
	xlat      = netip.MustParsePrefix("::ffff:0:0:0/96") // IPv4-translated (SIIT)
	nat64     = netip.MustParsePrefix("64:ff9b::/96")    // well-known NAT64
	nat64Loc  = netip.MustParsePrefix("64:ff9b:1::/48")  // local-use NAT64: any mapping
	sixToFour = netip.MustParsePrefix("2002::/16")       // 6to4: a.b.c.d in bits 16-48
	teredo    = netip.MustParsePrefix("2001::/32")       // Teredo: server and (inverted) client inside
	siteLocal = netip.MustParsePrefix("fec0::/10")
	discard   = netip.MustParsePrefix("100::/64")
)

// Special reports addresses a name may not resolve to without an explicit
// IP rule: loopback, private, link-local, CGNAT, multicast, unspecified,
// "this network", broadcast and cloud metadata, and every IPv6 form that
// carries such an IPv4 address inside it (IPv4-mapped, -compatible,
// -translated, NAT64, 6to4), plus Teredo and local-use NAT64, which can
// reach anything.
func Special(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, m := range metadata {
		if a == m {
			return true
		}
	}
	if a.Is6() {
		if teredo.Contains(a) || nat64Loc.Contains(a) || siteLocal.Contains(a) || discard.Contains(a) {
			return true
		}
		if v4, ok := embedded4(a); ok {
			return Special(v4)
		}
	}
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() ||
		cgnat.Contains(a) || thisNet.Contains(a) || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// embedded4 returns the IPv4 address an IPv6 address carries, for the
// forms that carry one in a fixed place.
func embedded4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case a == netip.IPv6Unspecified() || a == netip.IPv6Loopback():
		return netip.Addr{}, false
	case compat.Contains(a), xlat.Contains(a), nat64.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}
