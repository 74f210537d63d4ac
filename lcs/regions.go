// Package lcs is the client for Microsoft Dynamics Lifecycle Services: the regional API hosts,
// Entra ID sign-in and the database movement and environment endpoints.
//
// A Client talks to one LCS project in one geography. Every call checks the LCS response envelope
// (HTTP 200 with IsSuccess false is an error), waits out HTTP 429 for the stated Retry-After, keeps
// under the documented per-minute quotas with client-side limiters, re-authenticates once on 401,
// backs off on 5xx for reads and never retries a POST that may have started an operation.
// Errors are *APIError values that say what to do next and match the sentinel errors with
// errors.Is.
package lcs

import "sort"

// region is one LCS geography: its API host and the Entra ID host that signs its users in.
type region struct {
	baseURL       string
	authorityHost string
}

// regions maps the region names a runbook uses to the LCS API base URL of that geography.
// A project lives in exactly one geography; calling another fails. Microsoft's documents show
// only the public API host (lcsapi.lcs.dynamics.com: database/api/dbmovement-api-authentication.md);
// the regional hosts are d365fo.tools' (lcs/contract, hosts).
//
// Sign-in: "gov" is LCS for the US Government Community Cloud (gov.lcs.microsoftdynamics.us:
// fin-ops/deployment/us-gcc-deployment.md), whose customers sign in with public Azure AD — "GCC
// ... leverages Public Azure AD", unlike GCC High, which requires Azure AD Government
// (power-platform, admin/microsoft-dynamics-365-government.md) — so its authority is the
// public cloud's. China's LCS (lcs.dynamics.cn, named in us-gcc-deployment.md) signs in at
// Azure China's authority, login.chinacloudapi.cn (not in the LCS documents).
func regions() map[string]region {
	const public = "https://login.microsoftonline.com"
	return map[string]region{
		"global": {"https://lcsapi.lcs.dynamics.com", public},
		"us":     {"https://lcsapi.lcs.dynamics.com", public},
		"eu":     {"https://lcsapi.eu.lcs.dynamics.com", public},
		"fr":     {"https://lcsapi.fr.lcs.dynamics.com", public},
		"sa":     {"https://lcsapi.sa.lcs.dynamics.com", public},
		"uae":    {"https://lcsapi.uae.lcs.dynamics.com", public},
		"ch":     {"https://lcsapi.ch.lcs.dynamics.com", public},
		"no":     {"https://lcsapi.no.lcs.dynamics.com", public},
		"cn":     {"https://lcsapi.lcs.dynamics.cn", "https://login.chinacloudapi.cn"},
		"gov":    {"https://lcsapi.gov.lcs.microsoftdynamics.us", public},
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
	r, ok := regions()[region]
	return r.baseURL, ok
}

// AuthorityHost returns the Entra ID sign-in host of a region's cloud (public, also for the US
// Government Community Cloud; or China), e.g. https://login.microsoftonline.com.
func AuthorityHost(region string) (string, bool) {
	r, ok := regions()[region]
	return r.authorityHost, ok
}
