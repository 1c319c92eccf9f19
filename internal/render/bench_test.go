package render_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/agent/agenttest"
	"github.com/ralphloop/ralph/internal/render"
)

// transcript is a claude stream-json transcript of about size bytes: tool
// results of 8 KiB of source text, narration, a final result (the shape
// of internal/agent's BenchmarkClaudeFinalMessage, so the two compare).
func transcript(tb testing.TB, size int) []byte {
	tb.Helper()
	chunk := strings.Repeat("func main() { fmt.Println(\"hello, \\\"world\\\"\") }\n", 160)
	var outs []string
	for n := 0; n < size; n += len(chunk) + 400 {
		outs = append(outs, chunk)
	}
	var buf bytes.Buffer
	if err := agenttest.Emit(&buf, "claude", agenttest.Script{Narration: []string{"Looking."}, ToolOutputs: outs, Final: "<promise>COMPLETE</promise>"}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkRenderClaude renders a claude transcript fed in 32 KiB writes,
// as a pipe delivers it, to a discarding writer. Goal (issue 21): at
// least 400 MB/s, and no more than 2x the time of the final-message
// parser on the same input (internal/agent BenchmarkClaudeFinalMessage).
func BenchmarkRenderClaude(b *testing.B) {
	for _, size := range []int{4 << 20, 64 << 20} {
		data := transcript(b, size)
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
