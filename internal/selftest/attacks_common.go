package selftest

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"time"
)

func tlsClient(c net.Conn, sni string) *tls.Conn {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
}

// helper runs one attack in a child process of the probe.
func helper(ctx context.Context, bin string, args ...string) (string, error) {
	if bin == "" {
		return "", errNoHelper
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append([]string{"sandbox-helper", "attack"}, args...)...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// fill writes up to total bytes into a new file in dir, and reports
// whether all of them went in. The file is removed either way.
func fill(dir string, total int64) bool {
	f, err := os.CreateTemp(dir, ".ralph-selftest-fill-")
	if err != nil {
		return false
	}
	defer os.Remove(f.Name())
	defer f.Close()
	chunk := bytes.Repeat([]byte{'x'}, 1<<20)
	for got := int64(0); got < total; got += int64(len(chunk)) {
		if _, err := f.Write(chunk); err != nil {
			return false
		}
	}
	return f.Sync() == nil
}
