package render_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/ralphloop/ralph/internal/agent/agenttest"
	"github.com/ralphloop/ralph/internal/render"
)

// BenchmarkRenderClaude renders a claude transcript fed in 32 KiB writes,
// as a pipe delivers it, to a discarding writer. Goal (issue 21): at
// least 400 MB/s, and no more than 2x the time of the final-message
// parser on the same input (internal/agent BenchmarkClaudeFinalMessage).
func BenchmarkRenderClaude(b *testing.B) {
	for _, size := range []int{4 << 20, 64 << 20} {
		data := agenttest.Transcript(size)
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				r := render.New(io.Discard, "claude", 100, false)
				for rest := data; len(rest) > 0; {
					n := min(len(rest), 32<<10)
					r.Write(rest[:n])
					rest = rest[n:]
				}
				r.Flush()
			}
		})
	}
}
