package selftest

import (
	"bytes"
	"net"
	"sync/atomic"
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
