package selftest

import (
	"bytes"
	"net"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// echoRequest is an ICMP (or ICMPv6) echo request carrying mark. The
// kernel fills in the checksum of ping sockets and of ICMPv6 raw sockets;
// an ICMPv4 raw socket sends what it is given.
func echoRequest(v6 bool, mark string) []byte {
	typ := byte(8)
	if v6 {
		typ = 128
	}
	b := append([]byte{typ, 0, 0, 0, 0x52, 0x4c, 0, 1}, mark...)
	if !v6 {
		var sum uint32
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
		for sum > 0xffff {
			sum = sum>>16 + sum&0xffff
		}
		cs := ^uint16(sum)
		b[2], b[3] = byte(cs>>8), byte(cs)
	}
	return b
}

// pingLoopback sends marked echo requests to 127.0.0.1 and ::1 through
// every kind of ICMP socket the sandbox lets it open, and says which it
// could open. Whether a request reached the host's loopback is for the
// host's raw listener to count: inside its own network namespace the
// sandbox's loopback answers its own pings.
func pingLoopback(mark string) []string {
	var sent []string
	for _, k := range []struct {
		name   string
		family int
		typ    int
		proto  int
		to     unix.Sockaddr
	}{
		{"ping socket to 127.0.0.1", unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}},
		{"raw ICMP to 127.0.0.1", unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}},
		{"ICMPv6 ping socket to ::1", unix.AF_INET6, unix.SOCK_DGRAM, unix.IPPROTO_ICMPV6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}},
		{"raw ICMPv6 to ::1", unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}},
	} {
		fd, err := unix.Socket(k.family, k.typ|unix.SOCK_CLOEXEC, k.proto)
		if err != nil {
			continue
		}
		if unix.Sendto(fd, echoRequest(k.family == unix.AF_INET6, mark), 0, k.to) == nil {
			sent = append(sent, k.name)
		}
		unix.Close(fd)
	}
	return sent
}

// icmpWatch counts ICMP packets carrying mark that reach the host's
// loopback, through raw sockets (root or CAP_NET_RAW on the host).
type icmpWatch struct {
	conns []net.PacketConn
	n     atomic.Int64
}

func watchICMP(mark string) *icmpWatch {
	w := &icmpWatch{}
	for _, l := range [][2]string{{"ip4:icmp", "127.0.0.1"}, {"ip6:ipv6-icmp", "::1"}} {
		c, err := net.ListenPacket(l[0], l[1])
		if err != nil {
			continue
		}
		w.conns = append(w.conns, c)
		go func() {
			buf := make([]byte, 65536)
			for {
				n, _, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				if bytes.Contains(buf[:n], []byte(mark)) {
					w.n.Add(1)
				}
			}
		}()
	}
	return w
}

// watching says whether the host could watch at all.
func (w *icmpWatch) watching() bool { return len(w.conns) > 0 }

func (w *icmpWatch) Close() {
	for _, c := range w.conns {
		c.Close()
	}
}
