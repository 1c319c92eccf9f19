package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/netgate/policyfile"
	"github.com/ralphloop/ralph/internal/secret"
	"github.com/ralphloop/ralph/internal/termsafe"
)

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// newGateCmd is `ralph gate serve`: the network gate on its own, on a TCP
// address, as a fleet's gate Deployment runs it.
func newGateCmd(f *Factory) *cobra.Command {
	io := f.IO
	cmd := &cobra.Command{
		Use:     "gate",
		Short:   "Run the network gate on its own (as a fleet's gate pods do)",
		Example: "  ralph gate serve --listen :3128 --policy-dir /etc/ralph/policy --name fleet",
	}
	var listen, dir, name, secretsDir string
	var limits netgate.Gate
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve the egress gate on a TCP address, deny by default",
		Long: `Serve ralph's egress gate (an HTTP forward proxy with CONNECT) on a TCP
address. It allows what the policy files in --policy-dir allow (global.json
and sandboxes/NAME.json, the format ralph policy writes) and nothing else,
rereads them when they change, and writes every decision to stdout as one
JSON line. A fleet's gate Deployment runs it with the rules of a ConfigMap.

Every client is treated as hostile: a header block over 16 KiB gets 431;
headers (and a tunnel's TLS ClientHello) must arrive within
--header-timeout; each client address may hold --max-conns-per-client
connections (more are closed at once, never queued); a tunnel or response
with no byte moving for --idle-timeout ends.

With --secrets-dir, the gate adds the secrets of that folder (a file per
secret named as ralph secret names them: anthropic, claude-oauth, openai,
gemini, github; NAME.url for an API that is not the vendor's) to requests
for their routes (http://NAME.secret.invalid), as a loop's own gate does.
A fleet's gate mounts the Secret ralph-gate-secrets there; the loops' pods
hold placeholders. The folder is read again every few seconds; its names,
never its values, are logged when they change.`,
		Example: `  ralph gate serve --listen 127.0.0.1:3128
  ralph gate serve --listen :3128 --policy-dir /etc/ralph/policy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store := f.policies()
			if dir != "" {
				store = policyfile.Store{Dir: dir}
			}
			w := &policyfile.Watcher{Store: store, Name: name}
			w.Current()
			if err := w.Err(); err != nil {
				return usageErr("gate: %v", err)
			}
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("gate: %w", err)
			}
			fmt.Fprintf(io.Err, "ralph: gate serving %s on %s (policy folder %s)\n", name, l.Addr(), store.Dir)
			g := &netgate.Gate{Sandbox: name, Policy: w.Current, Log: io.Out,
				MaxConns: limits.MaxConns, MaxConnsPerClient: limits.MaxConnsPerClient,
				HeaderTimeout: limits.HeaderTimeout, IdleTimeout: limits.IdleTimeout,
				Errors: func(err error) { fmt.Fprintf(io.Err, "ralph: gate: %v (waiting it out)\n", err) }}
			if secretsDir != "" {
				r := &secret.Reloader{Folder: secret.Folder{Dir: secretsDir}, Every: 3 * time.Second,
					Changed: func(names []string, err error) {
						if err != nil {
							fmt.Fprintf(io.Err, "ralph: gate: secrets: %v (serving the last ones read)\n", termsafe.String(err.Error()))
							return
						}
						fmt.Fprintf(io.Err, "ralph: gate: secrets added for their routes: %s\n", orNone(names))
					}}
				r.Credentials()
				g.CredentialsFrom = r.Credentials
			}
			done := make(chan struct{})
			defer func() { <-done }()
			go func() {
				defer close(done)
				w.Announce(cmd.Context(), io.Err)
			}()
			err = g.Serve(cmd.Context(), l)
			if errors.Is(err, context.Canceled) || cmd.Context().Err() != nil {
				return nil
			}
			return err
		},
	}
	serve.Flags().StringVar(&listen, "listen", "127.0.0.1:3128", "TCP address to serve on")
	serve.Flags().StringVar(&dir, "policy-dir", "", "folder of the policy files (default: ralph policy's own)")
	serve.Flags().StringVar(&secretsDir, "secrets-dir", "", "folder of secrets to add to requests for their routes (a mounted Secret)")
	serve.Flags().StringVar(&name, "name", "fleet", "sandbox name: the per-sandbox rules read and the name in the log")
	serve.Flags().IntVar(&limits.MaxConns, "max-conns", 4096, "connections at once, in all")
	serve.Flags().IntVar(&limits.MaxConnsPerClient, "max-conns-per-client", 1024, "connections at once from one client address")
	serve.Flags().DurationVar(&limits.HeaderTimeout, "header-timeout", 10*time.Second, "time a client has to send its request headers or TLS ClientHello")
	serve.Flags().DurationVar(&limits.IdleTimeout, "idle-timeout", 15*time.Minute, "end a tunnel or response after this long with no byte either way")
	cmd.AddCommand(serve)
	return cmd
}
