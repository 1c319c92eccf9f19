package proc

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestErrorsRedactAssignments(t *testing.T) {
	err := Run(context.Background(), Cmd{Argv: []string{"sh", "-c", "echo boom >&2; exit 3", "TOKEN=s3cr3t"}})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || ee.Stderr != "boom" {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "TOKEN=…") {
		t.Errorf("error text %q", err.Error())
	}
	if err := Run(context.Background(), Cmd{Argv: []string{"ralph-no-such-program"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing program: %v", err)
	}
}

func TestMinimalEnvOnly(t *testing.T) {
	t.Setenv("RALPH_PROC_CANARY", "leak")
	out, err := Output(context.Background(), Cmd{Argv: []string{"env"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "RALPH_PROC_CANARY") {
		t.Error("the whole environment reached a child")
	}
}
