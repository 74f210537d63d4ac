package cmd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"golang.org/x/term"

	"cutover/adapter"
	"cutover/engine/journal"
	"cutover/engine/report"
	"cutover/engine/runbook"
	"cutover/engine/team"
)

func cmdReport(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "report", Short: "write the go-live evidence report from the journal (Markdown or one HTML file)", Args: usageArgs(cobra.NoArgs)}
	fs := c.Flags()
	file := fs.StringP("file", "f", runbook.DefaultFile, "runbook `FILE` (default: the one the journal in --state was run with)")
	state := fs.String("state", "", "state `DIR` holding the journal; default .cutover beside the runbook")
	format := fs.String("format", "", "md or html (default: from -o's extension, else md)")
	out := fs.StringP("output", "o", "", "write to `PATH` instead of standard output")
	baseline := fs.String("baseline", "", "compare with an earlier run: its `JOURNAL` or state directory (default: the runbook's baseline:)")
	sign := fs.String("sign", "", "sign the report with the SSH `KEY` (a private key file, or a .pub whose key ssh-agent holds) into PATH.sig, as ssh-keygen -Y sign does")
	verify := fs.String("verify", "", "check the signature PATH.sig of the report `PATH` and name the signer from the team file")
	team := fs.String("team", "", "team `FILE` naming the signers' keys (with --verify); default cutover-team.keys beside the runbook")
	c.RunE = func(c *cobra.Command, args []string) error {
		_, stdout, stderr := s.in, s.out, s.err
		return exitWith(func() int {
			if *verify != "" {
				return verifyReport(*verify, *team, *file, stdout, stderr)
			}
			if *sign != "" && *out == "" {
				fmt.Fprintln(stderr, "cutover report: --sign needs -o PATH: the signature is written beside the report, to PATH.sig")
				return exitUsage
			}
			// The journal remembers its runbook (a demo's lives in its state directory).
			path := runbookOf(c.Flags(), *file, *state)
			opts := parseOptions()
			opts.SkipSecretChecks = true // a report reads the journal; it signs in nowhere
			rb, err := runbook.Load(path, opts)
			if err != nil {
				fmt.Fprintf(stderr, "cutover report: %v\n", err)
				return exitFail
			}
			switch *format {
			case "":
				switch ext := strings.ToLower(filepath.Ext(*out)); ext {
				case ".html", ".htm":
					*format = "html"
				case "", ".md", ".markdown", ".txt":
					*format = "md"
				default:
					// A report.pdf that holds Markdown would mislead whoever opens it.
					fmt.Fprintf(stderr, "cutover report: -o %s: the report is md or html; name it .md or .html, or give --format\n", *out)
					return exitUsage
				}
			case "md", "markdown":
				*format = "md"
			case "html":
			default:
				fmt.Fprintf(stderr, "cutover report: --format %q: want md or html\n", *format)
				return exitUsage
			}
			r, err := report.Build(report.Options{Runbook: rb, Journal: filepath.Join(stateDirFor(path, *state), journal.FileName), Baseline: *baseline})
			if err != nil {
				fmt.Fprintf(stderr, "cutover report: %v\n", err)
				return exitFail
			}
			var buf bytes.Buffer
			if *format == "html" {
				err = r.HTML(&buf)
			} else {
				err = r.Markdown(&buf)
			}
			if err != nil {
				fmt.Fprintf(stderr, "cutover report: %v\n", err)
				return exitFail
			}
			if *out == "" {
				_, _ = stdout.Write(buf.Bytes())
			} else if err := journal.WriteFileAtomic(*out, buf.Bytes(), 0o600); err != nil {
				fmt.Fprintf(stderr, "cutover report: %v\n", err)
				return exitFail
			} else {
				fmt.Fprintf(stdout, "report written to %s\n", *out)
			}
			if !r.Integrity.Verified {
				fmt.Fprintf(stderr, "cutover report: %s\n", r.Integrity.Banner())
				if *sign != "" {
					fmt.Fprintln(stderr, "cutover report: not signed: the journal fails verification")
				}
				return exitFail
			}
			if *sign != "" {
				return signReport(*out, buf.Bytes(), *sign, stdout, stderr)
			}
			return exitOK
		}())
	}
	return c
}

// signReport signs the report written to path with the SSH key named by key, into path.sig.
func signReport(path string, data []byte, key string, stdout, stderr io.Writer) int {
	var ask func(string) ([]byte, error)
	if term.IsTerminal(int(os.Stdin.Fd())) {
		ask = adapter.ReadHidden
	}
	signer, err := report.LoadSigner(key, os.Getenv("SSH_AUTH_SOCK"), ask)
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: not signed: %v\n", err)
		return exitFail
	}
	sig, err := report.Sign(data, signer)
	if err == nil {
		err = journal.WriteFileAtomic(path+report.SignatureExt, sig, 0o600)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: not signed: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "signed with %s into %s%s\ncheck it: cutover report --verify %s  (or: ssh-keygen -Y verify -f ALLOWED_SIGNERS -I NAME -n %s -s %s%s < %s)\n",
		report.KeyName(signer.PublicKey()), path, report.SignatureExt, path, report.SignatureNamespace, path, report.SignatureExt, path)
	return exitOK
}

// verifyReport checks a signed report and names its signer from the team file.
func verifyReport(path, teamFile, runbookFile string, stdout, stderr io.Writer) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: %v\n", err)
		return exitFail
	}
	armored, err := os.ReadFile(path + report.SignatureExt)
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: no signature beside the report: %v\n", err)
		return exitFail
	}
	pub, err := report.VerifySignature(data, armored)
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: BAD SIGNATURE on %s: %v\n", path, err)
		return exitFail
	}
	// Anyone can sign with a key of their own: the signature counts only from a team member.
	teamFile = teamPath(runbookFile, teamFile)
	t, err := team.Load(teamFile, team.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: the signature matches the report, but nothing says whose key %s is: %v (give the team file with --team FILE)\n", report.KeyName(pub), err)
		return exitFail
	}
	m, ok := t.Lookup(pub)
	if !ok {
		fmt.Fprintf(stderr, "cutover report: the signature is good, but its key %s is not in %s: someone outside the team signed it\n", report.KeyName(pub), teamFile)
		return exitFail
	}
	fmt.Fprintf(stdout, "good signature on %s by %s (%s, %s; %s line %d)\n", path, m.Name, m.Role, report.KeyName(pub), teamFile, m.Line)
	return exitOK
}
