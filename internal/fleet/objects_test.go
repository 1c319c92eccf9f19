package fleet

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func testRun() Run {
	return Run{ID: "app-1a2b3c", Repo: "https://git.example/app.git", Push: "ralph/app-1a2b3c", Agent: "claude",
		AgentArgs: []string{"--model", "opus"}, LoopArgs: []string{"-n", "5"}, Image: "ralph-claude:1",
		RuntimeClass: "gvisor", Env: map[string]string{"FOO": "bar"}, APIKey: "anthropic", APIKeyEnv: "ANTHROPIC_API_KEY",
		GitToken: "gh:pat", Gate: "10.0.0.7:3128", CPU: "2", Memory: "4Gi", Disk: "10Gi",
		Deadline: time.Hour, TTL: 24 * time.Hour, UID: 1000}
}

// TestJobIsRestricted checks every field the restricted Pod Security
// Standard names, and the Job's own bounds.
func TestJobIsRestricted(t *testing.T) {
	j, err := Job("ns", testRun())
	if err != nil {
		t.Fatal(err)
	}
	if got := *j.Spec.BackoffLimit; got != 0 {
		t.Errorf("backoffLimit %d, want 0", got)
	}
	if got := *j.Spec.ActiveDeadlineSeconds; got != 3600 {
		t.Errorf("activeDeadlineSeconds %d, want 3600", got)
	}
	if got := *j.Spec.TTLSecondsAfterFinished; got != 86400 {
		t.Errorf("ttlSecondsAfterFinished %d", got)
	}
	p := j.Spec.Template.Spec
	checkRestricted(t, p)
	if *p.AutomountServiceAccountToken || *p.EnableServiceLinks || p.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("automount %v, service links %v, restart %s", *p.AutomountServiceAccountToken, *p.EnableServiceLinks, p.RestartPolicy)
	}
	if p.RuntimeClassName == nil || *p.RuntimeClassName != "gvisor" {
		t.Errorf("runtimeClassName %v", p.RuntimeClassName)
	}
	c := p.Containers[0]
	if !c.Resources.Requests.Memory().Equal(*c.Resources.Limits.Memory()) || c.Resources.Limits.Memory().String() != "4Gi" {
		t.Errorf("memory requests %v limits %v", c.Resources.Requests.Memory(), c.Resources.Limits.Memory())
	}
	if c.Resources.Limits.StorageEphemeral().String() != "10Gi" || c.Resources.Limits.Cpu().String() != "2" {
		t.Errorf("limits %v", c.Resources.Limits)
	}
	if c.TerminationMessagePolicy != corev1.TerminationMessageReadFile {
		t.Errorf("termination message policy %s", c.TerminationMessagePolicy)
	}
	wantArgs := []string{"fleet", "pod", "--repo", "https://git.example/app.git", "--push", "ralph/app-1a2b3c", "--agent", "claude", "-n", "5", "--", "--model", "opus"}
	if diff := cmp.Diff(c.Args, wantArgs); diff != "" {
		t.Errorf("args (-got +want):\n%s", diff)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if env[k].Value != "http://10.0.0.7:3128" {
			t.Errorf("%s=%q", k, env[k].Value)
		}
	}
	// Secrets by reference only: no value in the spec.
	if e := env["ANTHROPIC_API_KEY"]; e.Value != "" || e.ValueFrom.SecretKeyRef.Name != "anthropic" || e.ValueFrom.SecretKeyRef.Key != "token" {
		t.Errorf("api key env %+v", e)
	}
	if e := env["RALPH_GIT_TOKEN"]; e.Value != "" || e.ValueFrom.SecretKeyRef.Name != "gh" || e.ValueFrom.SecretKeyRef.Key != "pat" {
		t.Errorf("git token env %+v", e)
	}
	if env["FOO"].Value != "bar" || env["RALPH_FLEET_RUN"].Value != "app-1a2b3c" {
		t.Errorf("env %v", env)
	}
}

func checkRestricted(t *testing.T, p corev1.PodSpec) {
	t.Helper()
	ps := p.SecurityContext
	if !*ps.RunAsNonRoot || *ps.RunAsUser == 0 || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v", ps)
	}
	if p.HostNetwork || p.HostPID || p.HostIPC {
		t.Error("host namespaces")
	}
	for _, c := range p.Containers {
		s := c.SecurityContext
		if *s.AllowPrivilegeEscalation || *s.Privileged || !*s.ReadOnlyRootFilesystem || !*s.RunAsNonRoot ||
			!slices.Equal(s.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(s.Capabilities.Add) != 0 ||
			s.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("container %s security context %+v", c.Name, s)
		}
		if c.Resources.Limits.Memory().IsZero() || c.Resources.Limits.Cpu().IsZero() {
			t.Errorf("container %s has no limits", c.Name)
		}
	}
	for _, v := range p.Volumes {
		if v.HostPath != nil {
			t.Errorf("hostPath volume %s", v.Name)
		}
	}
}

func TestGateIsRestricted(t *testing.T) {
	d, err := Gate("ns", "img", 2, 1000)
	if err != nil {
		t.Fatal(err)
	}
	checkRestricted(t, d.Spec.Template.Spec)
	if *d.Spec.Replicas != 2 || d.Spec.Template.Labels[LabelRole] != RoleGate {
		t.Errorf("replicas %d labels %v", *d.Spec.Replicas, d.Spec.Template.Labels)
	}
	if got := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " "); got != "gate serve --listen :3128 --policy-dir /etc/ralph/policy --secrets-dir /etc/ralph/secrets" {
		t.Errorf("gate args %q", got)
	}
	// The gate's secrets: an optional Secret, readable by the gate's
	// group only; the loops' pods never mount it (TestJob…).
	var sec *corev1.SecretVolumeSource
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			sec = v.Secret
		}
	}
	if sec == nil || sec.SecretName != GateSecretsName || !*sec.Optional || *sec.DefaultMode != 0o440 {
		t.Errorf("the gate's secrets volume %+v", sec)
	}
}

// TestLoopPolicy: the loops may open TCP to the gate's pods on the gate's
// port and nothing else (no DNS rule, no other peer), and take no ingress.
func TestLoopPolicy(t *testing.T) {
	np := LoopPolicy("ns")
	if diff := cmp.Diff(np.Spec.PodSelector.MatchLabels, map[string]string{LabelRole: RoleLoop}); diff != "" {
		t.Error(diff)
	}
	if len(np.Spec.PolicyTypes) != 2 || len(np.Spec.Ingress) != 0 || len(np.Spec.Egress) != 1 {
		t.Fatalf("policy %+v", np.Spec)
	}
	e := np.Spec.Egress[0]
	if len(e.To) != 1 || e.To[0].PodSelector.MatchLabels[LabelRole] != RoleGate || e.To[0].IPBlock != nil || e.To[0].NamespaceSelector != nil {
		t.Errorf("egress peers %+v", e.To)
	}
	if len(e.Ports) != 1 || *e.Ports[0].Protocol != corev1.ProtocolTCP || e.Ports[0].Port.IntValue() != GatePort {
		t.Errorf("egress ports %+v", e.Ports)
	}
}

func TestNamespaceEnforcesRestricted(t *testing.T) {
	if got := Namespace("x").Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("enforce label %q", got)
	}
}

func TestSplitSecret(t *testing.T) {
	for in, want := range map[string][2]string{"a": {"a", "token"}, "a:b": {"a", "b"}} {
		n, k := SplitSecret(in)
		if n != want[0] || k != want[1] {
			t.Errorf("%q: %q %q", in, n, k)
		}
	}
}
