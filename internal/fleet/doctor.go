package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Check is one line of `ralph fleet doctor`.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok, warn, fail
	Detail string `json:"detail"`
}

var gvrRuntimeClass = schema.GroupVersionResource{Group: "node.k8s.io", Version: "v1", Resource: "runtimeclasses"}

// Doctor says what the cluster gives a fleet in this namespace: the API
// server, the namespace's Pod Security level, the RuntimeClasses, the
// gate, and, with probe, whether the network plugin enforces the
// NetworkPolicies at all (two probe pods try to reach the gate: one a loop
// may, one no policy allows).
func (c *Client) Doctor(ctx context.Context, probe bool) []Check {
	var out []Check
	add := func(name, status, format string, args ...any) {
		out = append(out, Check{Name: name, Status: status, Detail: fmt.Sprintf(format, args...)})
	}
	v, err := c.version(ctx)
	if err != nil {
		add("api server", "fail", "%v", err)
		return out
	}
	add("api server", "ok", "%s at %s", v, c.Host)

	var ns corev1.Namespace
	switch err := c.get(ctx, gvrNamespace, c.NS, &ns); {
	case apierrors.IsNotFound(err):
		add("namespace", "ok", "%s does not exist yet: ralph fleet run creates it enforcing the restricted Pod Security Standard", c.NS)
	case err != nil:
		add("namespace", "fail", "%v", err)
	case ns.Labels["pod-security.kubernetes.io/enforce"] == "restricted":
		add("namespace", "ok", "%s enforces the restricted Pod Security Standard", c.NS)
	default:
		add("namespace", "warn", "%s does not enforce the restricted Pod Security Standard: ralph's pods are restricted, but the API server would admit looser ones there (kubectl label ns %s pod-security.kubernetes.io/enforce=restricted)", c.NS, c.NS)
	}

	var classes []string
	rcs, err := list[metav1.PartialObjectMetadata](ctx, c, gvrRuntimeClass, "")
	for _, rc := range rcs {
		classes = append(classes, rc.Name)
	}
	if err != nil {
		add("runtime classes", "warn", "cannot list them: %v", err)
	} else if len(classes) == 0 {
		add("runtime classes", "warn", "none: pods run on the nodes' default runtime, a shared kernel (install gVisor or Kata and pass --runtime-class)")
	} else {
		add("runtime classes", "ok", "%s (pass one with --runtime-class)", strings.Join(classes, ", "))
	}

	var d appsv1.Deployment
	if err := c.get(ctx, gvrDeployment, GateName, &d); apierrors.IsNotFound(err) {
		add("gate", "ok", "not deployed yet: the first ralph fleet run deploys it")
		add("network policy", "warn", "not checked: it needs the gate (run ralph fleet doctor --probe after a first run)")
		return out
	} else if err != nil {
		add("gate", "fail", "%v", err)
		return out
	}
	rules, _ := c.GateRules(ctx)
	add("gate", map[bool]string{true: "ok", false: "fail"}[d.Status.ReadyReplicas > 0],
		"%d of %d replicas ready, %d rules (ConfigMap %s)", d.Status.ReadyReplicas, *d.Spec.Replicas, len(rules), GatePolicyName)
	if !probe {
		add("network policy", "warn", "not checked (--probe runs two pods to see whether the network plugin enforces it)")
		return out
	}
	add(c.probeNetworkPolicy(ctx, d.Spec.Template.Spec.Containers[0].Image))
	return out
}

func (c *Client) version(ctx context.Context) (string, error) {
	u, err := url.Parse(c.Host)
	if err != nil {
		return "", err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.JoinPath("version").String(), nil)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return "", fmt.Errorf("fleet: %w", err)
	}
	defer resp.Body.Close()
	var v struct{ GitVersion string }
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", fmt.Errorf("fleet: api server: %s: %s", resp.Status, b)
	}
	err = json.NewDecoder(resp.Body).Decode(&v)
	return "Kubernetes " + v.GitVersion, err
}

// probeNetworkPolicy starts a pod labelled as a loop (the control: the
// policies let it reach the gate) and one labelled as nothing of ralph's
// (no policy lets it reach the gate); each dials a gate pod. Both getting
// through means the network plugin does not enforce NetworkPolicy.
func (c *Client) probeNetworkPolicy(ctx context.Context, image string) (string, string, string) {
	const name = "network policy"
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	addr, err := c.GateAddress(ctx, true)
	if err != nil {
		return name, "fail", "probe: " + err.Error()
	}
	id := strings.ToLower(fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff))
	loop, err := c.probe(ctx, "ralph-probe-loop-"+id, RoleLoop, image, addr)
	if err != nil {
		return name, "fail", "probe: " + err.Error()
	}
	other, err := c.probe(ctx, "ralph-probe-other-"+id, "probe", image, addr)
	if err != nil {
		return name, "fail", "probe: " + err.Error()
	}
	switch {
	case loop != "connected":
		return name, "fail", "inconclusive: a loop pod could not reach the gate (" + loop + ")"
	case other == "connected":
		return name, "fail", "NOT enforced by this cluster's network plugin: a pod no policy allows reached the gate, so loop pods can also reach any address directly; the gate only holds for programs that honour the proxy variables (use a plugin that enforces NetworkPolicy: Calico, Cilium, ...)"
	}
	return name, "ok", "enforced: a loop pod reached the gate, another pod could not (" + other + ")"
}

// probe runs one restricted pod with `ralph fleet probe --dial addr` and
// returns what it wrote to its termination message.
func (c *Client) probe(ctx context.Context, name, role, image, addr string) (string, error) {
	labels := map[string]string{LabelManaged: "ralph", LabelRole: role}
	res, err := resources("100m", "64Mi", "64Mi")
	if err != nil {
		return "", err
	}
	pod := &corev1.Pod{TypeMeta: typeMeta("v1", "Pod"), ObjectMeta: meta(name, c.NS, labels, nil),
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, AutomountServiceAccountToken: ptr(false),
			EnableServiceLinks: ptr(false), SecurityContext: podSecurity(1000),
			Containers: []corev1.Container{{Name: "probe", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"ralph"}, Args: []string{"fleet", "probe", "--dial", addr},
				SecurityContext: containerSecurity(1000), Resources: res,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile}},
		}}
	if err := c.Apply(ctx, gvrPod, pod); err != nil {
		return "", err
	}
	defer c.res(gvrPod).Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
	for {
		var p corev1.Pod
		if err := c.get(ctx, gvrPod, name, &p); err != nil {
			return "", err
		}
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil {
				return strings.TrimSpace(t.Message), nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("pod %s did not finish: %w", name, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Probe is the probe pod's side: dial addr, and say what happened.
func Probe(addr, termLog string) string {
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	res := "connected"
	if err != nil {
		res = "blocked: " + err.Error()
	} else {
		conn.Close()
	}
	os.WriteFile(termLog, []byte(res), 0o644)
	return res
}
