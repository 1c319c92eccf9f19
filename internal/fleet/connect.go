package fleet

import "k8s.io/client-go/tools/clientcmd"

// Connect connects as kubectl would: kubeconfig ("" for $KUBECONFIG,
// else ~/.kube/config), its context ("" for the current one) and
// namespace ("" for the context's, else ralph). A kubeconfig that cannot
// be used is ErrInvalid.
func Connect(kubeconfig, context, namespace string) (*Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, invalid("fleet: kubeconfig: %v", err)
	}
	cfg.UserAgent = "ralph"
	// client-go's default of 5 requests a second (burst 10) would make
	// submitting 100 loops take 20 s: the API server's own flow control
	// is the limit that matters.
	cfg.QPS, cfg.Burst = 50, 100
	ns := namespace
	if ns == "" {
		if n, explicit, err := cc.Namespace(); err == nil && explicit {
			ns = n
		} else {
			ns = "ralph"
		}
	}
	return NewClient(cfg, ns)
}
