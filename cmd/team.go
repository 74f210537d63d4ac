package cmd

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"strings"

	"cutover/engine"
	"cutover/engine/runbook"
	"cutover/engine/team"

	"github.com/spf13/cobra"
)

// cmdTeam adds a key to the team file or lists it.
func cmdTeam(s *streams) *cobra.Command {
	parent := &cobra.Command{Use: "team", Short: "add a teammate's SSH key to the team file, or list it", Args: usageArgs(cobra.NoArgs), RunE: needsCommand}
	for _, v := range []struct{ verb, use, short string }{
		{"add", "add PUBKEY_FILE|-", "add a public key (a file, or - for stdin) with a display name and a role"},
		{"list", "list", "list who may join over SSH, as what"},
	} {
		verb := v.verb
		c := &cobra.Command{Use: v.use, Short: v.short, Args: usageArgs(cobra.NoArgs)}
		fs := c.Flags()
		file := fs.StringP("file", "f", runbook.DefaultFile, "runbook `FILE` (the team file defaults to its folder)")
		teamFile := fs.String("team", "", "team `FILE` (default cutover-team.keys beside the runbook)")
		var name, role *string
		if verb == "add" {
			c.Args = usageArgs(cobra.ExactArgs(1))
			name = fs.String("name", "", "display `NAME` shown in the cockpit and the journal")
			role = fs.String("role", "", "operator (may act and confirm) or viewer (watches)")
			_ = c.MarkFlagRequired("name")
			_ = c.MarkFlagRequired("role")
			_ = c.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{"operator", "viewer"}, cobra.ShellCompDirectiveNoFileComp))
		}
		c.RunE = func(c *cobra.Command, args []string) error {
			stdin, stdout, stderr := s.in, s.out, s.err
			return exitWith(func() int {
				path := teamPath(*file, *teamFile)
				if verb == "list" {
					data, err := os.ReadFile(path)
					if err != nil {
						fmt.Fprintf(stderr, "cutover team list: %v\n", err)
						return exitFail
					}
					members, err := team.Parse(path, data)
					if err != nil {
						fmt.Fprintf(stderr, "cutover team list: %v\n", err)
						return exitFail
					}
					for _, m := range members.Sorted() {
						fmt.Fprintf(stdout, "%-24s %-8s %s\n", m.Name, m.Role, m.Fingerprint)
					}
					return exitOK
				}
				if len(args) != 1 {
					fmt.Fprintln(stderr, "cutover team add: give the public key file (or - for stdin)")
					return exitUsage
				}
				var pub []byte
				var err error
				if args[0] == "-" {
					pub, err = io.ReadAll(stdin)
				} else {
					pub, err = os.ReadFile(args[0])
				}
				if err != nil {
					fmt.Fprintf(stderr, "cutover team add: %v\n", err)
					return exitFail
				}
				line, err := team.Line(pub, *name, engine.Role(*role))
				if err != nil {
					fmt.Fprintf(stderr, "cutover team add: %v\n", err)
					return exitUsage
				}
				existing, err := os.ReadFile(path)
				if err != nil && !errors.Is(err, iofs.ErrNotExist) {
					fmt.Fprintf(stderr, "cutover team add: %v\n", err)
					return exitFail
				}
				text := string(existing)
				if len(existing) == 0 {
					text = team.Header
				} else if !strings.HasSuffix(text, "\n") {
					text += "\n"
				}
				text += line + "\n"
				if _, err := team.Parse(path, []byte(text)); err != nil {
					fmt.Fprintf(stderr, "cutover team add: %v\n", err)
					return exitFail
				}
				if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
					fmt.Fprintf(stderr, "cutover team add: %v\n", err)
					return exitFail
				}
				fmt.Fprintf(stdout, "added %s as %s to %s\n", *name, *role, path)
				return exitOK
			}())
		}
		parent.AddCommand(c)
	}
	return parent
}
