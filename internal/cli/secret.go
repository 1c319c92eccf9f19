package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ralphloop/ralph/internal/exitcode"
	"github.com/ralphloop/ralph/internal/secret"
)

type secretOptions struct {
	f           *Factory
	io          IO
	name        string
	fromCommand string
	asJSON      bool
}

// newSecret builds ralph secret set|ls|rm.
func newSecret(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Keep the agent's API key out of the sandbox: the gate adds it",
		Long: `A secret is an API credential ralph keeps outside every workspace and
never passes into the sandbox. On a backend with ralph's network gate
(bwrap, docker, podman, gVisor, the microVM) the agent's key variable holds
a placeholder and its base URL points at the gate, which sends each request
on to the real API with the secret added, and drops any credential header
the sandbox sent. No other host ever gets it; the gate's log names the
secret each request used, never its value.

The names ralph knows, and the agent each is for:
  anthropic      claude   (x-api-key; API: $ANTHROPIC_BASE_URL or api.anthropic.com)
  claude-oauth   claude   (a subscription's token from claude setup-token; Authorization: Bearer)
  openai         codex    (Authorization: Bearer; API: $OPENAI_BASE_URL or api.openai.com/v1)
  gemini         gemini   (x-goog-api-key; API: $GOOGLE_GEMINI_BASE_URL or generativelanguage.googleapis.com)
  (anthropic, openai and gemini are opencode's too: its providers anthropic, openai
   and google, their base URLs set in OPENCODE_CONFIG_CONTENT)
  github         git, with every agent (a token for git's fetch and push over https:
                 Authorization: Basic; server: $GITHUB_SERVER_URL, passed with --env, or github.com)

With github, git in the sandbox takes the gate's route for the server's
https://, git@HOST: and ssh:// remotes (url.insteadOf, set through git's
GIT_CONFIG_* variables); the gate adds the token to git's smart-HTTP
requests (OWNER/REPO/info/refs, git-upload-pack, git-receive-pack, and Git
LFS's API) and refuses any other path of the server. The server is allowed
by the run's policy like an agent's API (deny rules still win). gh and
other API clients get no token: api.github.com speaks only TLS.

Values are stored in ~/.config/ralph/secrets (or $XDG_CONFIG_HOME/ralph/secrets),
one file each, readable by you only; or come from a command run on this
machine at each loop start (--from-command). On the host backend and sbx,
which have no ralph gate, the value is passed in as the variable, with a
warning.`,
		Example: `  ralph secret set anthropic                              # asks for the value (not echoed)
  printf %s "$KEY" | ralph secret set openai             # from standard input
  ralph secret set gemini --from-command 'pass show gemini'  # run at each loop start
  ralph secret set github --from-command 'gh auth token'     # git push from the sandbox, no token inside
  ralph secret ls
  ralph secret rm anthropic`,
	}
	cmd.AddCommand(newSecretSet(f), newSecretLs(f), newSecretRm(f))
	return cmd
}

func newSecretSet(f *Factory) *cobra.Command {
	o := &secretOptions{f: f, io: f.IO}
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Store a secret: from a prompt, standard input, or a command",
		Example: `  ralph secret set anthropic                          # asks (not echoed)
  printf %s "$OPENAI_API_KEY" | ralph secret set openai
  ralph secret set gemini --from-command 'pass show gemini'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name = args[0]
			return secretSet(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.fromCommand, "from-command", "", "a command that prints the value, run by sh at each loop start (e.g. 'gh auth token')")
	return cmd
}

func newSecretLs(f *Factory) *cobra.Command {
	o := &secretOptions{f: f, io: f.IO}
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the stored secrets (never their values)",
		Example: `  ralph secret ls
  ralph secret ls --json | jq -r .name`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return secretLs(o) },
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "one JSON object a line")
	return cmd
}

func newSecretRm(f *Factory) *cobra.Command {
	o := &secretOptions{f: f, io: f.IO}
	return &cobra.Command{
		Use:     "rm NAME",
		Short:   "Forget a secret",
		Example: `  ralph secret rm anthropic`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.f.secrets().Remove(args[0]); err != nil {
				if errors.Is(err, secret.ErrNotFound) {
					return exitcode.Usagef("%v", err)
				}
				return err
			}
			fmt.Fprintf(o.io.Err, "ralph: secret %s removed\n", args[0])
			return nil
		},
	}
}

// secretSet stores the value (or the command) of o.name.
func secretSet(ctx context.Context, o *secretOptions) error {
	if _, ok := secret.KindOf(o.name); !ok {
		fmt.Fprintf(o.io.Err, "ralph: warning: no agent uses a secret named %s (known: anthropic, claude-oauth, openai, gemini); stored anyway\n", o.name)
	}
	sec := secret.Secret{Name: o.name, FromCommand: o.fromCommand}
	if o.fromCommand != "" {
		if _, err := sec.Resolve(ctx); err != nil {
			return exitcode.Usagef("%v", err)
		}
	} else {
		v, err := readSecret(o.io, o.name)
		if err != nil {
			return err
		}
		sec.Value = v
	}
	if err := o.f.secrets().Set(sec); err != nil {
		return exitcode.Usagef("%v", err)
	}
	fmt.Fprintf(o.io.Err, "ralph: secret %s stored\n", o.name)
	return nil
}

// readSecret reads one value: from the terminal without echo, else the
// whole of standard input less one trailing newline.
func readSecret(s IO, name string) (string, error) {
	if f, ok := s.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(s.Err, "value of %s (not shown): ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.Err)
		if err != nil {
			return "", err
		}
		return checkValue(string(b))
	}
	// One byte past the cap, so a longer value is refused, not cut.
	b, err := io.ReadAll(io.LimitReader(s.In, secret.MaxValue+3))
	if err != nil {
		return "", err
	}
	return checkValue(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"))
}

func checkValue(v string) (string, error) {
	if err := secret.Valid(v); err != nil {
		return "", exitcode.Usagef("%v", err)
	}
	return v, nil
}

// secretLs lists names, where each value comes from, and its agent.
func secretLs(o *secretOptions) error {
	store := o.f.secrets()
	names, err := store.Names()
	if err != nil {
		return err
	}
	type row struct {
		Name   string `json:"name"`
		Source string `json:"source"`
		Agent  string `json:"agent,omitempty"`
		Git    bool   `json:"git,omitempty"` // git's token, used with every agent
		Header string `json:"header,omitempty"`
	}
	var rows []row
	for _, n := range names {
		sec, err := store.Get(n)
		if err != nil {
			return err
		}
		r := row{Name: n, Source: "stored"}
		if sec.FromCommand != "" {
			r.Source = "command"
		}
		if k, ok := secret.KindOf(n); ok {
			r.Agent, r.Git, r.Header = k.Agent, k.Git, k.Header
		}
		rows = append(rows, r)
	}
	if o.asJSON {
		enc := json.NewEncoder(o.io.Out)
		for _, r := range rows {
			enc.Encode(r)
		}
		return nil
	}
	if len(rows) == 0 {
		fmt.Fprintln(o.io.Err, "no secrets: ralph secret set NAME (see ralph secret --help)")
		return nil
	}
	tw := tabwriter.NewWriter(o.io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSOURCE\tAGENT\tHEADER")
	for _, r := range rows {
		agent := r.Agent
		if r.Git {
			agent = "git (every agent)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Source, dash(agent), dash(r.Header))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
