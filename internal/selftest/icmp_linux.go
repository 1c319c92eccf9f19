package selftest

import "golang.org/x/sys/unix"

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
