package svc

import (
	"strconv"
	"strings"
)

// QuoteArgv renders a command line for logs and messages: arguments that are empty or contain
// blanks or quotes are quoted, Go style.
func QuoteArgv(argv []string) string {
	parts := make([]string, len(argv))
	for i, s := range argv {
		if s == "" || strings.ContainsAny(s, " \t\"'") {
			parts[i] = strconv.Quote(s)
		} else {
			parts[i] = s
		}
	}
	return strings.Join(parts, " ")
}
