package sandboxtest

import (
	"os"
	"testing"
)

// RequireEnv names the environment variable that turns skips for a
// missing engine into failures. .ci/run sets it, so CI proves every real
// backend instead of skipping it.
const RequireEnv = "RALPH_REQUIRE_ENGINES"

// Require skips the test when err says an engine is missing, or fails it
// when RALPH_REQUIRE_ENGINES=1.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s is required (%s=1) but unavailable: %v", what, RequireEnv, err)
	}
	t.Skipf("%s unavailable: %v", what, err)
}
