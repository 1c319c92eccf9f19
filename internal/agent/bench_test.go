package agent_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/agent/agenttest"
)

// transcript builds a claude stream-json transcript of about size bytes:
// tool results of 8 KiB of source text, narration, and a final result.
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

// BenchmarkClaudeFinalMessage measures final-message extraction from a
// claude stream-json transcript fed in 32 KiB writes, as a pipe delivers
// it. Goal: at least 200 MB/s, with allocations that do not grow with the
// transcript (compare B/op of the two sizes).
func BenchmarkClaudeFinalMessage(b *testing.B) {
	for _, size := range []int{4 << 20, 64 << 20} {
		data := transcript(b, size)
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
