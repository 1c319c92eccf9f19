package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/ralphloop/ralph/internal/netgate/policy"
	"github.com/ralphloop/ralph/internal/netgate/policyfile"
	"github.com/ralphloop/ralph/internal/termsafe"
)

// Client submits and reads loops in one namespace. It speaks to the API
// server through client-go's dynamic client with the typed objects of
// k8s.io/api converted on the way: the typed clientset would register every
// API group and more than triple the size of ralph's binary, which every
// sandbox and microVM gets a copy of.
type Client struct {
	Dyn dynamic.Interface
	NS  string
	// HTTP and Host reach what the dynamic client does not: pod logs.
	HTTP *http.Client
	Host string
}

// NewClient connects to the cluster of cfg.
func NewClient(cfg *rest.Config, ns string) (*Client, error) {
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, wrap("client", err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, wrap("client", err)
	}
	return &Client{Dyn: d, NS: ns, HTTP: hc, Host: cfg.Host}, nil
}

var (
	gvrNamespace  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrConfigMap  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrService    = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrPod        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	gvrSecret     = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrJob        = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
	gvrDeployment = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrNetPolicy  = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}
)

var applyOpts = metav1.ApplyOptions{FieldManager: FieldManager, Force: true}

// res is a namespaced (or, for namespaces, cluster) resource.
func (c *Client) res(gvr schema.GroupVersionResource) dynamic.ResourceInterface {
	if gvr == gvrNamespace {
		return c.Dyn.Resource(gvr)
	}
	return c.Dyn.Resource(gvr).Namespace(c.NS)
}

// Apply server-side applies obj (a typed object with its TypeMeta set) as
// field manager "ralph".
func (c *Client) Apply(ctx context.Context, gvr schema.GroupVersionResource, obj metav1.Object) error {
	_, err := c.res(gvr).Apply(ctx, obj.GetName(), toUnstructured(obj), applyOpts)
	return wrap("apply "+gvr.Resource+" "+obj.GetName(), err)
}

// toUnstructured converts a typed object for the dynamic client, without
// the fields an apply must not claim (status, creationTimestamp).
func toUnstructured(obj any) *unstructured.Unstructured {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		panic(err) // only ralph's own typed objects come here
	}
	delete(u, "status")
	if m, ok := u["metadata"].(map[string]any); ok {
		delete(m, "creationTimestamp")
	}
	return &unstructured.Unstructured{Object: u}
}

// applyMap server-side applies an object given as a map.
func (c *Client) applyMap(ctx context.Context, gvr schema.GroupVersionResource, obj map[string]any) error {
	u := &unstructured.Unstructured{Object: obj}
	_, err := c.res(gvr).Apply(ctx, u.GetName(), u, applyOpts)
	return err
}

// get reads one object into out.
func (c *Client) get(ctx context.Context, gvr schema.GroupVersionResource, name string, out any) error {
	u, err := c.res(gvr).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out)
}

// list reads the objects of gvr with a label selector as T.
func list[T any](ctx context.Context, c *Client, gvr schema.GroupVersionResource, selector string) ([]T, error) {
	l, err := c.res(gvr).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	out := make([]T, len(l.Items))
	for i, it := range l.Items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(it.Object, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ErrNotFound: no run of that id.
var ErrNotFound = errors.New("no such fleet run")

// EnsureNamespace creates the namespace, restricted, when it is missing.
// An existing one is left as it is; the returned warning says when it
// does not enforce the restricted Pod Security Standard.
func (c *Client) EnsureNamespace(ctx context.Context) (warning string, err error) {
	var ns corev1.Namespace
	err = c.get(ctx, gvrNamespace, c.NS, &ns)
	if apierrors.IsNotFound(err) {
		return "", c.Apply(ctx, gvrNamespace, Namespace(c.NS))
	}
	if err != nil {
		return "", wrap("namespace", err)
	}
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		return fmt.Sprintf("namespace %s does not enforce the restricted Pod Security Standard (label pod-security.kubernetes.io/enforce=restricted): the API server will not refuse looser pods there", c.NS), nil
	}
	return "", nil
}

// mergeBackoff paces the retries of concurrent policy merges.
var mergeBackoff = wait.Backoff{Steps: 30, Duration: 10 * time.Millisecond, Factor: 1.5, Jitter: 0.5, Cap: time.Second}

// AllowAtGate adds rules to the gate's policy (the ConfigMap), keeping
// those already there, and returns the digest of the policy in force.
// Concurrent submissions never lose one another's rules: the first creates
// the ConfigMap (AlreadyExists for the others), later ones apply with the
// resourceVersion they merged into (Conflict when another changed it
// since); either way the merge starts again.
func (c *Client) AllowAtGate(ctx context.Context, rules []policy.Rule) (digest string, err error) {
	return c.EditGate(ctx, func(have []policy.Rule) ([]policy.Rule, error) { return policyfile.Merge(have, rules), nil })
}

// EditGate changes the gate's rules with edit (given the rules there, it
// returns the new ones) and returns the digest of the policy in force; as
// AllowAtGate, safe against concurrent edits.
func (c *Client) EditGate(ctx context.Context, edit func([]policy.Rule) ([]policy.Rule, error)) (digest string, err error) {
	again := func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }
	err = retry.OnError(mergeBackoff, again, func() error {
		var cm corev1.ConfigMap
		err := c.get(ctx, gvrConfigMap, GatePolicyName, &cm)
		var have []policy.Rule
		rv := ""
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return wrap("gate policy", err)
		default:
			rv = cm.ResourceVersion
			if have, err = policyfile.Decode([]byte(cm.Data[PolicyKey]), policyfile.Global); err != nil {
				return fmt.Errorf("fleet: gate policy in ConfigMap %s: %w", GatePolicyName, err)
			}
		}
		merged, err := edit(have)
		if err != nil {
			return err
		}
		if rv != "" && same(merged, have) {
			digest = policyfile.Digest([]byte(cm.Data[PolicyKey]))
			return nil
		}
		data, err := policyfile.Encode(merged)
		if err != nil {
			return err
		}
		digest = policyfile.Digest(data)
		cm2 := GatePolicy(c.NS, data, rv)
		if rv == "" {
			u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm2)
			if err != nil {
				return err
			}
			_, err = c.res(gvrConfigMap).Create(ctx, &unstructured.Unstructured{Object: u}, metav1.CreateOptions{FieldManager: FieldManager})
			return err
		}
		_, err = c.res(gvrConfigMap).Apply(ctx, GatePolicyName, toUnstructured(cm2), applyOpts)
		return err
	})
	return digest, err
}

func same(a, b []policy.Rule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Action != b[i].Action || a[i].Pattern != b[i].Pattern {
			return false
		}
	}
	return true
}

// SyncGate waits until every ready gate pod serves the policy of digest,
// or a later one (another run's edit, which merged into ours). The
// kubelet refreshes a ConfigMap volume only when it syncs the pod, every
// minute or so; an annotation change makes it sync the pod at once. The
// gate logs the digest of each policy it loads, so the last such line is
// what it serves.
func (c *Client) SyncGate(ctx context.Context, digest string) error {
	pods, err := c.pods(ctx, LabelRole+"="+RoleGate)
	if err != nil {
		return wrap("gate pods", err)
	}
	patch := []byte(`{"metadata":{"annotations":{"` + AnnoPolicy + `":"` + digest + `"}}}`)
	type watch struct {
		name  string
		since time.Time // its log before this was read whole
	}
	var waiting []watch
	for _, p := range pods {
		if !ready(&p) || p.DeletionTimestamp != nil {
			continue
		}
		// A gate started after the edit loaded it at start (and will not
		// log it again): read its whole log once.
		since := time.Now().Add(-2 * time.Second)
		if last, err := c.gatePolicy(ctx, p.Name, time.Time{}); err == nil && last == digest {
			continue
		}
		if p.Annotations[AnnoPolicy] != digest {
			if _, err := c.res(gvrPod).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
				return wrap("gate pod "+p.Name, err)
			}
		}
		waiting = append(waiting, watch{p.Name, since})
	}
	for len(waiting) > 0 {
		want := map[string]bool{digest: true}
		var cm corev1.ConfigMap
		if err := c.get(ctx, gvrConfigMap, GatePolicyName, &cm); err == nil {
			want[policyfile.Digest([]byte(cm.Data[PolicyKey]))] = true
		}
		var left []watch
		for _, w := range waiting {
			if last, err := c.gatePolicy(ctx, w.name, w.since); err != nil || !want[last] {
				left = append(left, w)
			}
		}
		if waiting = left; len(waiting) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			var names []string
			for _, w := range waiting {
				names = append(names, w.name)
			}
			return fmt.Errorf("fleet: gate pods %s have not loaded policy %s yet: %w", strings.Join(names, ", "), digest, context.Cause(ctx))
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

// gatePolicy is the digest of the last policy a gate pod logged since t
// (its whole log when t is zero), or "".
func (c *Client) gatePolicy(ctx context.Context, pod string, since time.Time) (string, error) {
	var log strings.Builder
	if err := c.podLog(ctx, pod, "gate", false, since, &log); err != nil {
		return "", err
	}
	return lastPolicy(log.String()), nil
}

// lastPolicy finds the digest of the last policy a gate's log says it
// loaded ("ralph: gate policy DIGEST: N rules"; a policy it refused
// leaves the previous one in force).
func lastPolicy(log string) string {
	m := loadedPolicy.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

var loadedPolicy = regexp.MustCompile(`(?m)gate policy (sha256:[0-9a-f]+): \d+ rules$`)

// GateRules returns the rules the gate serves.
func (c *Client) GateRules(ctx context.Context) ([]policy.Rule, error) {
	var cm corev1.ConfigMap
	err := c.get(ctx, gvrConfigMap, GatePolicyName, &cm)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("gate policy", err)
	}
	return policyfile.Decode([]byte(cm.Data[PolicyKey]), policyfile.Global)
}

// ApplyGate applies the gate's Deployment, Service and the two
// NetworkPolicies.
//
// A gate that runs already keeps its image and its replica count unless
// the caller names them (image "", replicas 0): a run with another agent's
// image, or the default of one replica, must not roll or scale down the
// gate under the loops that use it.
func (c *Client) ApplyGate(ctx context.Context, image string, replicas int32, uid int64, defaultImage string) error {
	var cur appsv1.Deployment
	switch err := c.get(ctx, gvrDeployment, GateName, &cur); {
	case err == nil:
		if image == "" && len(cur.Spec.Template.Spec.Containers) > 0 {
			image = cur.Spec.Template.Spec.Containers[0].Image
		}
		if replicas == 0 && cur.Spec.Replicas != nil {
			replicas = *cur.Spec.Replicas
		}
	case !apierrors.IsNotFound(err):
		return wrap("gate deployment", err)
	}
	if image == "" {
		image = defaultImage
	}
	if replicas == 0 {
		replicas = 1
	}
	d, err := Gate(c.NS, image, replicas, uid)
	if err != nil {
		return err
	}
	if err := c.Apply(ctx, gvrDeployment, d); err != nil {
		return err
	}
	if err := c.Apply(ctx, gvrService, GateService(c.NS)); err != nil {
		return err
	}
	if err := c.Apply(ctx, gvrNetPolicy, LoopPolicy(c.NS)); err != nil {
		return err
	}
	return c.Apply(ctx, gvrNetPolicy, GateIngress(c.NS))
}

// GateAddress waits until a gate pod is ready and returns the address the
// loops use: the Service's ClusterIP, or with podIP the ready pod's own
// address (for clusters without kube-proxy, where ClusterIPs lead nowhere).
func (c *Client) GateAddress(ctx context.Context, podIP bool) (string, error) {
	port := strconv.Itoa(GatePort)
	for {
		if !podIP {
			var svc corev1.Service
			if err := c.get(ctx, gvrService, GateName, &svc); err != nil {
				return "", wrap("gate service", err)
			}
			var d appsv1.Deployment
			if err := c.get(ctx, gvrDeployment, GateName, &d); err != nil {
				return "", wrap("gate deployment", err)
			}
			if d.Status.ReadyReplicas > 0 && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != "None" {
				return net.JoinHostPort(svc.Spec.ClusterIP, port), nil
			}
		} else {
			pods, err := c.pods(ctx, LabelRole+"="+RoleGate)
			if err != nil {
				return "", wrap("gate pods", err)
			}
			for _, p := range pods {
				if ready(&p) && p.Status.PodIP != "" && p.DeletionTimestamp == nil {
					return net.JoinHostPort(p.Status.PodIP, port), nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("fleet: waiting for the gate to be ready: %w", context.Cause(ctx))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (c *Client) pods(ctx context.Context, selector string) ([]corev1.Pod, error) {
	return list[corev1.Pod](ctx, c, gvrPod, selector)
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// CheckSecret says whether a Secret "name[:key]" exists with that key,
// so a typo fails the submission rather than leaving pods waiting. Only
// the key's presence is looked at. When ralph may not read Secrets (RBAC),
// the answer is a warning, not a failure.
func (c *Client) CheckSecret(ctx context.Context, ref string) (warning string, err error) {
	name, key := SplitSecret(ref)
	var sec corev1.Secret
	switch err := c.get(ctx, gvrSecret, name, &sec); {
	case apierrors.IsNotFound(err):
		return "", fmt.Errorf("fleet: no Secret %s in namespace %s (kubectl -n %s create secret generic %s --from-literal=%s=...)", name, c.NS, c.NS, name, key)
	case apierrors.IsForbidden(err):
		return fmt.Sprintf("cannot check Secret %s (forbidden): make sure it exists with key %s", name, key), nil
	case err != nil:
		return "", wrap("secret "+name, err)
	}
	if _, ok := sec.Data[key]; !ok {
		if _, ok := sec.StringData[key]; !ok {
			return "", fmt.Errorf("fleet: Secret %s has no key %s (name it as %s:KEY)", name, key, name)
		}
	}
	return "", nil
}

// Submit applies a run's Job.
func (c *Client) Submit(ctx context.Context, r Run) error {
	j, err := Job(c.NS, r)
	if err != nil {
		return err
	}
	return c.Apply(ctx, gvrJob, j)
}

// Status is one run as `ralph fleet ls` shows it.
type Status struct {
	ID      string    `json:"id"`
	Job     string    `json:"job"`
	Repo    string    `json:"repo"`
	Push    string    `json:"branch"`
	Agent   string    `json:"agent"`
	State   string    `json:"state"` // pending, running, succeeded, failed, stopped
	Pod     string    `json:"pod,omitempty"`
	Created time.Time `json:"created"`
	Result  *Result   `json:"result,omitempty"`
	Reason  string    `json:"reason,omitempty"` // why a pod failed without a result
}

// List returns the runs, newest first.
func (c *Client) List(ctx context.Context) ([]Status, error) {
	jobs, err := list[batchv1.Job](ctx, c, gvrJob, LabelRole+"="+RoleLoop)
	if err != nil {
		return nil, wrap("list jobs", err)
	}
	pods, err := c.pods(ctx, LabelRole+"="+RoleLoop)
	if err != nil {
		return nil, wrap("list pods", err)
	}
	byRun := map[string]*corev1.Pod{}
	for i := range pods {
		p := &pods[i]
		id := p.Labels[LabelRun]
		if q := byRun[id]; q == nil || p.CreationTimestamp.After(q.CreationTimestamp.Time) {
			byRun[id] = p
		}
	}
	out := make([]Status, 0, len(jobs))
	for i := range jobs {
		out = append(out, status(&jobs[i], byRun[jobs[i].Labels[LabelRun]]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Get returns one run.
func (c *Client) Get(ctx context.Context, id string) (Status, error) {
	all, err := c.List(ctx)
	if err != nil {
		return Status{}, err
	}
	for _, s := range all {
		if s.ID == id || s.Job == id {
			return s, nil
		}
	}
	return Status{}, fmt.Errorf("%w: %s in namespace %s (ralph fleet ls)", ErrNotFound, id, c.NS)
}

func status(j *batchv1.Job, p *corev1.Pod) Status {
	s := Status{ID: j.Labels[LabelRun], Job: j.Name, Repo: j.Annotations[AnnoRepo], Push: j.Annotations[AnnoPush],
		Agent: j.Annotations[AnnoAgent], Created: j.CreationTimestamp.Time, State: "pending"}
	if p != nil {
		s.Pod = p.Name
		switch p.Status.Phase {
		case corev1.PodRunning:
			s.State = "running"
		case corev1.PodSucceeded:
			s.State = "succeeded"
		case corev1.PodFailed:
			s.State = "failed"
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason != "" {
				s.Reason = c.Reason + ": " + c.Message
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" {
				// ImagePullBackOff, CreateContainerConfigError (a
				// missing Secret), ...: what keeps the loop from starting.
				s.Reason = w.Reason
				if w.Message != "" {
					s.Reason += ": " + w.Message
				}
			}
			if t := cs.State.Terminated; t != nil {
				if r, err := ParseResult(t.Message); err == nil {
					s.Result = &r
				} else if t.Reason != "" {
					s.Reason = t.Reason
				}
			}
		}
	}
	for _, cond := range j.Status.Conditions {
		if cond.Status != corev1.ConditionTrue {
			continue
		}
		switch cond.Type {
		case batchv1.JobSuspended:
			s.State = "stopped"
		case batchv1.JobComplete:
			s.State = "succeeded"
		case batchv1.JobFailed:
			s.State = "failed"
			if s.Result == nil && s.Reason == "" {
				s.Reason = cond.Reason
			}
		}
	}
	return s
}

// Summary is a run's outcome in a few words, safe for a terminal: the
// promise's text and the pod's reasons come from the pod, where the agent
// ran.
func (s Status) Summary() string { return termsafe.Line(s.summary()) }

func (s Status) summary() string {
	if s.Result != nil {
		out := exitName(s.Result.Exit)
		if s.Result.Text != "" {
			out += ": " + s.Result.Text
		}
		if !s.Result.Pushed {
			out += " (not pushed)"
		}
		return out
	}
	return s.Reason
}

// Logs copies the log of a run's pod to w; with follow, until it ends.
func (c *Client) Logs(ctx context.Context, id string, follow bool, w io.Writer) error {
	s, err := c.Get(ctx, id)
	if err != nil {
		return err
	}
	if s.Pod == "" {
		return fmt.Errorf("fleet: run %s has no pod yet (%s)", s.ID, s.State)
	}
	return c.podLog(ctx, s.Pod, "ralph", follow, time.Time{}, w)
}

// podLog copies a container's log to w (since a time, when not zero).
func (c *Client) podLog(ctx context.Context, pod, container string, follow bool, since time.Time, w io.Writer) error {
	u, err := url.Parse(c.Host)
	if err != nil {
		return wrap("logs", err)
	}
	u = u.JoinPath("api/v1/namespaces", c.NS, "pods", pod, "log")
	q := url.Values{"container": {container}, "follow": {strconv.FormatBool(follow)}}
	if !since.IsZero() {
		q.Set("sinceTime", since.UTC().Format(time.RFC3339))
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return wrap("logs", err)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return wrap("logs", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("fleet: logs of %s: %s: %s", pod, resp.Status, b)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// Stop suspends a run's Job: Kubernetes sends its pod SIGTERM, and the pod
// commits and pushes what the agent has done before it goes.
func (c *Client) Stop(ctx context.Context, id string) error {
	s, err := c.Get(ctx, id)
	if err != nil {
		return err
	}
	patch := []byte(`{"spec":{"suspend":true}}`)
	_, err = c.res(gvrJob).Patch(ctx, s.Job, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	return wrap("stop", err)
}

// Remove deletes a run's Job and its pod.
func (c *Client) Remove(ctx context.Context, id string) error {
	s, err := c.Get(ctx, id)
	if err != nil {
		return err
	}
	bg := metav1.DeletePropagationBackground
	err = c.res(gvrJob).Delete(ctx, s.Job, metav1.DeleteOptions{PropagationPolicy: &bg})
	return wrap("remove", err)
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("fleet: %s: %w", what, err)
}
