package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"cutover/engine/runbook"
	"cutover/tui/web"

	"github.com/spf13/cobra"
)

// cmdHTTP revokes the web page's token: a new one replaces it, and every earlier link (and open
// page) stops working at once, even while a cockpit serves the page.
func cmdHTTP(s *streams) *cobra.Command {
	parent := &cobra.Command{Use: "http", Short: "the read-only status page: revoke its access token", Args: usageArgs(cobra.NoArgs), RunE: needsCommand}
	for _, verb := range []string{"revoke"} {
		c := &cobra.Command{Use: verb, Short: "replace the page’s token: every earlier link, open page and scrape is refused; the new link is printed", Args: usageArgs(cobra.NoArgs)}
		fs := c.Flags()
		file := fs.StringP("file", "f", runbook.DefaultFile, "runbook `FILE` (its state directory holds the token)")
		state := fs.String("state", "", "state `DIR`; default .cutover beside the runbook")
		c.RunE = func(c *cobra.Command, args []string) error {
			_, stdout, stderr := s.in, s.out, s.err
			return exitWith(func() int {
				dir := stateDirFor(*file, *state)
				tok, err := web.RevokeToken(dir)
				if err != nil {
					if errors.Is(err, os.ErrNotExist) {
						fmt.Fprintf(stderr, "cutover http revoke: no state directory %s\n", dir)
					} else {
						fmt.Fprintf(stderr, "cutover http revoke: %v\n", err)
					}
					return exitFail
				}
				fmt.Fprintln(stdout, "the old token is revoked: every earlier link and scrape configuration is refused from now on")
				if b, err := os.ReadFile(filepath.Join(dir, webURLFile)); err == nil {
					fmt.Fprintf(stdout, "new link: %s?token=%s\n", strings.TrimSpace(string(b)), tok)
				} else {
					fmt.Fprintf(stdout, "new token: %s (in %s)\n", tok, filepath.Join(dir, web.TokenFileName))
				}
				return exitOK
			}())
		}
		parent.AddCommand(c)
	}
	return parent
}
