package agent_test

import (
	"fmt"
	"testing"

	"github.com/ralphloop/ralph/internal/agent/agenttest"
)

// BenchmarkClaudeFinalMessage measures final-message extraction from a
// claude stream-json transcript fed in 32 KiB writes, as a pipe delivers
// it. Goal: at least 200 MB/s, with allocations that do not grow with the
// transcript (compare B/op of the two sizes).
func BenchmarkClaudeFinalMessage(b *testing.B) {
	for _, size := range []int{4 << 20, 64 << 20} {
		data := agenttest.Transcript(size)
		a := mustLookup(b, "claude")
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				s := agentStream(a)
				for rest := data; len(rest) > 0; {
					n := min(len(rest), 32<<10)
					s.Write(rest[:n])
					rest = rest[n:]
				}
				s.Close()
			}
		})
	}
}
