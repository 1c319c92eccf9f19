package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ralphloop/ralph/internal/netgate/policy"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// liveClient is a client of the cluster `shared/k8s/up $K8S_LOCAL_DIR`
// started, in a fresh namespace removed after the test.
func liveClient(t *testing.T) *Client {
	t.Helper()
	dir := os.Getenv("K8S_LOCAL_DIR")
	if dir == "" {
		sandboxtest.Require(t, "kubernetes", errors.New("K8S_LOCAL_DIR unset"))
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	b := make([]byte, 3)
	rand.Read(b)
	c, err := NewClient(cfg, "ralph-unit-"+hex.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.EnsureNamespace(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.res(gvrNamespace).Delete(context.Background(), c.NS, metav1.DeleteOptions{}) })
	return c
}

// TestAllowAtGateConcurrent: runs submitted at the same moment each add
// their rules to the one ConfigMap; none is lost (a plain apply of the
// merged rules would keep only the last writer's).
func TestAllowAtGateConcurrent(t *testing.T) {
	c := liveClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r, err := policy.ParseRule(policy.Allow, fmt.Sprintf("host%d.example", i), "t")
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = c.AllowAtGate(ctx, []policy.Rule{r})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("run %d: %v", i, err)
		}
	}
	rules, err := c.GateRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, r := range rules {
		have[r.Pattern] = true
	}
	for i := range n {
		if p := fmt.Sprintf("host%d.example", i); !have[p] {
			t.Errorf("rule %s lost; the gate has %d rules", p, len(rules))
		}
	}
}

func TestCheckSecret(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	if _, err := c.CheckSecret(ctx, "nope"); err == nil {
		t.Error("a missing Secret passed")
	}
	sec := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "k"},
		"stringData": map[string]any{"token": "x"}}
	if err := c.applyMap(ctx, gvrSecret, sec); err != nil {
		t.Fatal(err)
	}
	if w, err := c.CheckSecret(ctx, "k"); err != nil || w != "" {
		t.Errorf("existing Secret: %q %v", w, err)
	}
	if _, err := c.CheckSecret(ctx, "k:other"); err == nil {
		t.Error("a missing key passed")
	}
}

func TestLastPolicy(t *testing.T) {
	log := `ralph: gate serving fleet on [::]:3128 (policy folder /etc/ralph/policy)
ralph: gate policy sha256:aaaa: 2 rules
{"time":"2026-11-27T10:00:00Z","host":"github.com","decision":"allow"}
ralph: gate policy sha256:bbbb: 3 rules
ralph: gate policy sha256:cccc not loaded: bad rule (the last good one stays)
{"time":"2026-11-27T10:00:01Z","host":"x","decision":"deny"}
`
	if got := lastPolicy(log); got != "sha256:bbbb" {
		t.Errorf("lastPolicy = %q, want sha256:bbbb (the last one loaded)", got)
	}
	if got := lastPolicy("ralph: gate serving fleet\n"); got != "" {
		t.Errorf("lastPolicy of a log without one = %q", got)
	}
}
