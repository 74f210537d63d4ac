// Package lcs is the client for Microsoft Dynamics Lifecycle Services: the regional API hosts,
// Entra ID sign-in and the database movement and environment endpoints.
package lcs

import "sort"

// regions maps the region names a runbook uses to the LCS API base URL of that geography.
// A project lives in exactly one geography; calling another fails.
func regions() map[string]string {
	return map[string]string{
		"global": "https://lcsapi.lcs.dynamics.com",
		"us":     "https://lcsapi.lcs.dynamics.com",
		"eu":     "https://lcsapi.eu.lcs.dynamics.com",
		"fr":     "https://lcsapi.fr.lcs.dynamics.com",
		"sa":     "https://lcsapi.sa.lcs.dynamics.com",
		"uae":    "https://lcsapi.uae.lcs.dynamics.com",
		"ch":     "https://lcsapi.ch.lcs.dynamics.com",
		"no":     "https://lcsapi.no.lcs.dynamics.com",
		"cn":     "https://lcsapi.lcs.dynamics.cn",
		"gov":    "https://lcsapi.gov.lcs.microsoftdynamics.us",
	}
}

// RegionNames lists the region names a runbook may use.
func RegionNames() []string {
	r := regions()
	out := make([]string, 0, len(r))
	for name := range r {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// BaseURL returns the API base URL of a region.
func BaseURL(region string) (string, bool) {
	u, ok := regions()[region]
	return u, ok
}
