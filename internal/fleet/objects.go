// Package fleet runs ralph loops on Kubernetes: one Job per loop whose pod
// is the loop's boundary, a per-namespace network gate (a Deployment and a
// Service running `ralph gate serve`) that is the loops' only way out, and
// NetworkPolicies that say so to the cluster. This file builds the objects
// (pure, no I/O); client.go applies and reads them with client-go; pod.go
// is what runs inside a loop's pod.
package fleet

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	netv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Labels and annotations ralph puts on what it makes.
const (
	LabelManaged   = "app.kubernetes.io/managed-by"
	LabelRole      = "ralph.dev/role"
	LabelRun       = "ralph.dev/run"
	AnnoRepo       = "ralph.dev/repo"
	AnnoBranch     = "ralph.dev/branch"
	AnnoPush       = "ralph.dev/push"
	AnnoAgent      = "ralph.dev/agent"
	AnnoPolicy     = "ralph.dev/policy" // on gate pods: the policy digest they should serve
	FieldManager   = "ralph"
	RoleLoop       = "loop"
	RoleGate       = "gate"
	GateName       = "ralph-gate"
	GatePolicyName = "ralph-gate-policy"
	// GateSecretsName is the Secret whose keys (anthropic, openai, …;
	// NAME.url for another API) the gate adds for their routes; only the
	// gate's pods mount it, and it may not exist.
	GateSecretsName = "ralph-gate-secrets"
	GatePort        = 3128
	PolicyKey       = "global.json"
	// Home and Work are emptyDirs: the root filesystem is read-only.
	Home = "/home/ralph"
	Work = "/work"
)

// Run is one loop to submit.
type Run struct {
	ID     string // the Job is ralph-<ID>, the pushed branch ralph/<ID> by default
	Repo   string // git URL the pod clones
	Branch string // branch to start from ("" = the remote's default)
	Push   string // branch pushed at the end
	Agent  string
	// AgentArgs go after -- to the in-pod loop; LoopArgs before it
	// (-n, --env NAME, ...).
	AgentArgs, LoopArgs []string
	Image               string
	RuntimeClass        string
	// Env is set on the container (plain values the user chose to pass).
	Env map[string]string
	// APIKey and GitToken name Secrets ("secret" or "secret:key") whose
	// value reaches the pod as APIKeyEnv and RALPH_GIT_TOKEN.
	APIKey, APIKeyEnv, GitToken string
	// Gate is the proxy address the pod uses (host:port).
	Gate string
	// Resources: requests equal limits.
	CPU, Memory, Disk string
	Deadline, TTL     time.Duration
	UID               int64
}

func meta(name, ns string, labels, annos map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: annos}
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// Namespace is the namespace ralph creates when it is missing: the API
// server itself then refuses any pod looser than the restricted Pod
// Security Standard.
func Namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: meta(name, "", map[string]string{
		LabelManaged:                                 "ralph",
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	}, nil)}
}

func ptr[T any](v T) *T { return &v }

// podSecurity is the pod-level half of the restricted standard.
func podSecurity(uid int64) *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot: ptr(true), RunAsUser: ptr(uid), RunAsGroup: ptr(uid), FSGroup: ptr(uid),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// containerSecurity is the container-level half.
func containerSecurity(uid int64) *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot: ptr(true), RunAsUser: ptr(uid), RunAsGroup: ptr(uid),
		AllowPrivilegeEscalation: ptr(false), Privileged: ptr(false),
		ReadOnlyRootFilesystem: ptr(true),
		Capabilities:           &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:         &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func resources(cpu, mem, disk string) (corev1.ResourceRequirements, error) {
	rl := corev1.ResourceList{}
	for name, v := range map[corev1.ResourceName]string{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem, corev1.ResourceEphemeralStorage: disk} {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return corev1.ResourceRequirements{}, fmt.Errorf("fleet: %s %q: %w", name, v, err)
		}
		rl[name] = q
	}
	return corev1.ResourceRequirements{Requests: rl, Limits: rl}, nil
}

func emptyDir(name, size string) corev1.Volume {
	ed := &corev1.EmptyDirVolumeSource{}
	if size != "" {
		ed.SizeLimit = ptr(resource.MustParse(size))
	}
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: ed}}
}

func secretEnv(env, ref string) corev1.EnvVar {
	name, key := SplitSecret(ref)
	return corev1.EnvVar{Name: env, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}}
}

// SplitSecret splits "name[:key]"; the key defaults to "token".
func SplitSecret(ref string) (name, key string) {
	for i := range len(ref) {
		if ref[i] == ':' {
			return ref[:i], ref[i+1:]
		}
	}
	return ref, "token"
}

// ProxyEnv points every spelling of the proxy variables at the gate.
func ProxyEnv(gate string) map[string]string {
	u := "http://" + gate
	return map[string]string{"HTTP_PROXY": u, "HTTPS_PROXY": u, "http_proxy": u, "https_proxy": u, "ALL_PROXY": u}
}

func mount(name, path string) corev1.VolumeMount {
	return corev1.VolumeMount{Name: name, MountPath: path}
}

// Job is the loop's Job: one pod, never retried, locked down as the
// restricted Pod Security Standard requires, reaching the network only
// through the gate.
func Job(ns string, r Run) (*batchv1.Job, error) {
	res, err := resources(r.CPU, r.Memory, r.Disk)
	if err != nil {
		return nil, err
	}
	args := []string{"fleet", "pod", "--repo", r.Repo, "--push", r.Push, "--agent", r.Agent}
	if r.Branch != "" {
		args = append(args, "--branch", r.Branch)
	}
	args = append(args, r.LoopArgs...)
	if len(r.AgentArgs) > 0 {
		args = append(append(args, "--"), r.AgentArgs...)
	}
	env := map[string]string{"HOME": Home, "RALPH_FLEET_RUN": r.ID, "RALPH_FLEET_RUNTIME_CLASS": r.RuntimeClass}
	for k, v := range ProxyEnv(r.Gate) {
		env[k] = v
	}
	for k, v := range r.Env {
		env[k] = v
	}
	c := corev1.Container{
		Name: "ralph", Image: r.Image, ImagePullPolicy: corev1.PullIfNotPresent,
		Command: []string{"ralph"}, Args: args, WorkingDir: Work,
		SecurityContext: containerSecurity(r.UID), Resources: res,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		VolumeMounts:             []corev1.VolumeMount{mount("work", Work), mount("tmp", "/tmp"), mount("home", Home)},
	}
	for _, k := range sortedKeys(env) {
		c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: env[k]})
	}
	if r.APIKey != "" {
		c.Env = append(c.Env, secretEnv(r.APIKeyEnv, r.APIKey))
	}
	if r.GitToken != "" {
		c.Env = append(c.Env, secretEnv("RALPH_GIT_TOKEN", r.GitToken))
	}
	spec := corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever, AutomountServiceAccountToken: ptr(false),
		EnableServiceLinks: ptr(false), SecurityContext: podSecurity(r.UID),
		// Time for the pod to commit and push after SIGTERM (ralph fleet stop).
		TerminationGracePeriodSeconds: ptr(int64(60)),
		Containers:                    []corev1.Container{c},
		Volumes:                       []corev1.Volume{emptyDir("work", r.Disk), emptyDir("tmp", "1Gi"), emptyDir("home", "1Gi")},
	}
	if r.RuntimeClass != "" {
		spec.RuntimeClassName = ptr(r.RuntimeClass)
	}
	labels := map[string]string{LabelManaged: "ralph", LabelRole: RoleLoop, LabelRun: r.ID}
	annos := map[string]string{AnnoRepo: r.Repo, AnnoBranch: r.Branch, AnnoPush: r.Push, AnnoAgent: r.Agent}
	return &batchv1.Job{
		TypeMeta: typeMeta("batch/v1", "Job"), ObjectMeta: meta(JobName(r.ID), ns, labels, annos),
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr(int32(0)),
			ActiveDeadlineSeconds:   ptr(int64(r.Deadline / time.Second)),
			TTLSecondsAfterFinished: ptr(int32(r.TTL / time.Second)),
			Template:                corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annos}, Spec: spec},
		},
	}, nil
}

// JobName is the Job of a run.
func JobName(id string) string { return "ralph-" + id }

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var gateLabels = map[string]string{LabelManaged: "ralph", LabelRole: RoleGate}

// GatePolicy is the ConfigMap holding the gate's rules, in the same file
// format as on one machine (policyfile's global.json).
func GatePolicy(ns string, data []byte, resourceVersion string) *corev1.ConfigMap {
	m := meta(GatePolicyName, ns, gateLabels, nil)
	m.ResourceVersion = resourceVersion
	return &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: m,
		Data: map[string]string{PolicyKey: string(data)}}
}

// Gate is the gate's Deployment: ralph itself, serving the policy of the
// ConfigMap on GatePort, locked down like the loops.
func Gate(ns, image string, replicas int32, uid int64) (*appsv1.Deployment, error) {
	res, err := resources("500m", "256Mi", "64Mi")
	if err != nil {
		return nil, err
	}
	port := intstr.FromInt32(GatePort)
	c := corev1.Container{
		Name: "gate", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
		Command: []string{"ralph"}, Args: []string{"gate", "serve", "--listen", ":" + strconv.Itoa(GatePort), "--policy-dir", "/etc/ralph/policy",
			"--secrets-dir", "/etc/ralph/secrets"},
		Ports:           []corev1.ContainerPort{{Name: "proxy", ContainerPort: GatePort, Protocol: corev1.ProtocolTCP}},
		SecurityContext: containerSecurity(uid), Resources: res,
		ReadinessProbe: &corev1.Probe{PeriodSeconds: 2, ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}}},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "policy", MountPath: "/etc/ralph/policy", ReadOnly: true},
			{Name: "secrets", MountPath: "/etc/ralph/secrets", ReadOnly: true}, mount("home", Home)},
		Env: []corev1.EnvVar{{Name: "HOME", Value: Home}},
	}
	spec := corev1.PodSpec{
		AutomountServiceAccountToken: ptr(false), EnableServiceLinks: ptr(false),
		SecurityContext: podSecurity(uid), Containers: []corev1.Container{c},
		Volumes: []corev1.Volume{
			{Name: "policy", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: GatePolicyName}}}},
			{Name: "secrets", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: GateSecretsName, Optional: ptr(true), DefaultMode: ptr(int32(0o440))}}},
			emptyDir("home", "64Mi")},
	}
	return &appsv1.Deployment{
		TypeMeta: typeMeta("apps/v1", "Deployment"), ObjectMeta: meta(GateName, ns, gateLabels, nil),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: gateLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: gateLabels}, Spec: spec},
		},
	}, nil
}

// GateService gives the gate one stable address.
func GateService(ns string) *corev1.Service {
	return &corev1.Service{
		TypeMeta: typeMeta("v1", "Service"), ObjectMeta: meta(GateName, ns, gateLabels, nil),
		Spec: corev1.ServiceSpec{Selector: gateLabels, Ports: []corev1.ServicePort{{
			Name: "proxy", Port: GatePort, TargetPort: intstr.FromInt32(GatePort), Protocol: corev1.ProtocolTCP}}},
	}
}

func gatePort() []netv1.NetworkPolicyPort {
	return []netv1.NetworkPolicyPort{{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(GatePort))}}
}

func role(r string) []netv1.NetworkPolicyPeer {
	return []netv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelRole: r}}}}
}

// LoopPolicy denies the loop pods every ingress and every egress but TCP
// to the gate's pods: no DNS, no API server, no other pod, no internet.
func LoopPolicy(ns string) *netv1.NetworkPolicy {
	return &netv1.NetworkPolicy{
		TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: meta("ralph-loops", ns, map[string]string{LabelManaged: "ralph"}, nil),
		Spec: netv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{LabelRole: RoleLoop}},
			PolicyTypes: []netv1.PolicyType{netv1.PolicyTypeIngress, netv1.PolicyTypeEgress},
			Egress:      []netv1.NetworkPolicyEgressRule{{To: role(RoleGate), Ports: gatePort()}},
		},
	}
}

// GateIngress lets only the loop pods reach the gate.
func GateIngress(ns string) *netv1.NetworkPolicy {
	return &netv1.NetworkPolicy{
		TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: meta("ralph-gate", ns, map[string]string{LabelManaged: "ralph"}, nil),
		Spec: netv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{LabelRole: RoleGate}},
			PolicyTypes: []netv1.PolicyType{netv1.PolicyTypeIngress},
			Ingress:     []netv1.NetworkPolicyIngressRule{{From: role(RoleLoop), Ports: gatePort()}},
		},
	}
}
