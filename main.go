// Command cutover is a terminal cockpit for the go-live cutover of a Dynamics AX 2012 → Dynamics 365
// Finance & Operations upgrade: a background engine runs the cutover runbook, front ends show it,
// and destructive steps wait for typed, attributed confirmations. The command line is in cmd/.
package main

import (
	"os"

	"cutover/cmd"
)

func main() {
	os.Exit(cmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
