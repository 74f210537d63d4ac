package tui

// joinLines say how another operator joins this cockpit to give an approval this session cannot
// (a step that needs several operators, each from their own session): with join, the command
// Options.Join names, or, when the cockpit is not served over SSH, by serving it.
func joinLines(join string) []string {
	if join == "" {
		return []string{"this cockpit is not served over SSH: start `cutover run --listen ADDR` (or `cutover serve`) so another operator can join from their own terminal"}
	}
	return []string{"another operator joins this cockpit from their own terminal with:", join}
}
