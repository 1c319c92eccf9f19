package agent

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The versions ralph version reports as tested are the ones the test
// suite installs (scripts/test.sh pins them): the two never drift apart.
func TestTestedVersionsMatchThePins(t *testing.T) {
	b, err := os.ReadFile("../../scripts/test.sh")
	if err != nil {
		t.Fatal(err)
	}
	pins := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z]+)_VERSION=(\S+)$`).FindAllStringSubmatch(string(b), -1) {
		pins[strings.ToLower(m[1])] = m[2]
	}
	if len(pins) == 0 {
		t.Fatal("no pins found in scripts/test.sh")
	}
	for name, a := range Registry() {
		if a.Tested != pins[name] {
			t.Errorf("%s: the adapter says tested with %q, scripts/test.sh installs %q", name, a.Tested, pins[name])
		}
		delete(pins, name)
	}
	for name := range pins {
		t.Errorf("scripts/test.sh pins %s, which has no adapter", name)
	}
}
