// Parsing the runbook's lcs: section: the environments, the sign-in and its tenant.

package runbook

import (
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// lcs reads the lcs: section; the sign-in's fields are checked against its auth mode.
func (p *parser) lcs(n *yaml.Node) *LCS {
	d := &p.d
	const where = "lcs"
	l := &LCS{Pos: posOf(n), Auth: LCSDeviceCode, Region: "global"}
	var regionNode, secretNode, authNode, tenantNode, authorityNode *yaml.Node
	present := d.Fields(n, where, map[string]Field{
		"project_id":                func(v *yaml.Node) { l.ProjectID = d.NonEmpty(v, where, "project_id") },
		"region":                    func(v *yaml.Node) { l.Region = d.NonEmpty(v, where, "region"); regionNode = v },
		"sandbox_environment_id":    func(v *yaml.Node) { l.SandboxEnvironmentID = d.NonEmpty(v, where, "sandbox_environment_id") },
		"production_environment_id": func(v *yaml.Node) { l.ProductionEnvironmentID = d.NonEmpty(v, where, "production_environment_id") },
		"auth": func(v *yaml.Node) {
			l.Auth = LCSAuth(d.Enum(v, where, "auth", string(LCSDeviceCode), string(LCSPassword), string(LCSClientSecret), string(LCSTokenEnv)))
			authNode = v
		},
		"client_id": func(v *yaml.Node) { l.ClientID = d.NonEmpty(v, where, "client_id") },
		"tenant_id": func(v *yaml.Node) { l.TenantID = d.NonEmpty(v, where, "tenant_id"); tenantNode = v },
		"username":  func(v *yaml.Node) { l.Username = d.NonEmpty(v, where, "username") },
		"password": func(v *yaml.Node) {
			d.Errorf(v, where, "password: inline passwords are refused; use password_env or password_file, or the device-code sign-in")
		},
		"client_secret": func(v *yaml.Node) {
			d.Errorf(v, where, "client_secret: inline secrets are refused; use client_secret_env or client_secret_file")
		},
		"password_env":       func(v *yaml.Node) { l.PasswordEnv = d.NonEmpty(v, where, "password_env"); secretNode = v },
		"password_file":      func(v *yaml.Node) { l.PasswordFile = d.NonEmpty(v, where, "password_file"); secretNode = v },
		"client_secret_env":  func(v *yaml.Node) { l.ClientSecretEnv = d.NonEmpty(v, where, "client_secret_env"); secretNode = v },
		"client_secret_file": func(v *yaml.Node) { l.ClientSecretFile = d.NonEmpty(v, where, "client_secret_file"); secretNode = v },
		"token_env":          func(v *yaml.Node) { l.TokenEnv = d.NonEmpty(v, where, "token_env"); secretNode = v },
		"base_url":           func(v *yaml.Node) { l.BaseURL = d.NonEmpty(v, where, "base_url") },
		"authority_url":      func(v *yaml.Node) { l.AuthorityURL = d.NonEmpty(v, where, "authority_url"); authorityNode = v },
		"certificate":        func(v *yaml.Node) { l.Certificate = d.NonEmpty(v, where, "certificate") },
	})
	d.Require(n, where, present, "project_id")
	if l.Region != "" && p.opts.Regions != nil && !contains(p.opts.Regions, l.Region) {
		if hint := suggest(l.Region, p.opts.Regions); hint != "" {
			d.Errorf(regionNode, where, "region: unknown LCS region %q (did you mean %q?)", l.Region, hint)
		} else {
			d.Errorf(regionNode, where, "region: unknown LCS region %q (use one of %s)", l.Region, strings.Join(p.opts.Regions, ", "))
		}
	}
	switch l.Auth {
	case LCSDeviceCode:
		if l.ClientID == "" {
			d.Errorf(n, where, "auth device-code needs client_id (the Entra app registration with the Dynamics Lifecycle services user_impersonation permission)")
		}
	case LCSPassword:
		if l.ClientID == "" || l.Username == "" {
			d.Errorf(n, where, "auth password needs client_id and username")
		}
		if l.PasswordEnv == "" && l.PasswordFile == "" {
			d.Errorf(n, where, "auth password needs password_env or password_file")
		}
		p.checkSecret(where, secretNode, l.PasswordEnv, l.PasswordFile)
	case LCSClientSecret:
		if l.ClientID == "" {
			d.Errorf(n, where, "auth client-secret needs client_id")
		}
		// The secret goes with a user's password grant: LCS takes only delegated sign-ins
		// ("Service Principal authentication isn't supported": dbmovement-api-authentication.md).
		if l.Username == "" || (l.PasswordEnv == "" && l.PasswordFile == "") {
			d.Errorf(n, where, "auth client-secret needs username and password_env or password_file: LCS takes only delegated (user) sign-ins, Service Principal authentication isn't supported; the secret is sent with the user's password grant")
		}
		if l.PasswordEnv != "" || l.PasswordFile != "" {
			p.checkSecret(where, secretNode, l.PasswordEnv, l.PasswordFile)
		}
		if l.ClientSecretEnv == "" && l.ClientSecretFile == "" {
			d.Errorf(n, where, "auth client-secret needs client_secret_env or client_secret_file")
		}
		if l.ClientSecretEnv != "" {
			p.checkEnv(where, "client_secret_env", secretNode, l.ClientSecretEnv)
		}
		p.checkSecret(where, secretNode, "", l.ClientSecretFile)
	case LCSTokenEnv:
		if l.TokenEnv == "" {
			d.Errorf(n, where, "auth token-env needs token_env (the variable holding a bearer token)")
		} else {
			p.checkEnv(where, "token_env", secretNode, l.TokenEnv)
		}
	}
	if l.Auth != LCSTokenEnv {
		p.checkTenant(l, n, authNode, tenantNode, authorityNode)
	}
	return l
}

// checkTenant requires the directory to sign in to. The app registration Microsoft documents for
// LCS is single-tenant ("Accounts in this organizational directory only", the default:
// database/api/dbmovement-api-authentication.md), and Entra refuses a single-tenant app at the
// shared authorities (organizations, common) with AADSTS50194 (entra-docs,
// identity-platform/reference-error-codes.md): a sign-in without the tenant fails on the night.
// authority_url naming a tenant (simulators, proxies) is enough.
func (p *parser) checkTenant(l *LCS, lcsNode, authNode, tenantNode, authorityNode *yaml.Node) {
	d := &p.d
	const where = "lcs"
	const why = "the app registration for LCS is single-tenant (Accounts in this organizational directory only), and Entra refuses a single-tenant app at the shared organizations/common authority with AADSTS50194"
	if l.TenantID != "" {
		if sharedTenant(l.TenantID) {
			d.Errorf(tenantNode, where, "tenant_id: %q is a shared authority, not a directory: give the directory (tenant) id or a verified domain (%s)", l.TenantID, why)
		}
		return
	}
	if l.AuthorityURL != "" {
		if u, err := url.Parse(l.AuthorityURL); err == nil {
			segs := strings.Split(strings.Trim(u.Path, "/"), "/")
			if t := segs[len(segs)-1]; t != "" && !sharedTenant(t) {
				return
			}
		}
		d.Errorf(authorityNode, where, "authority_url: %s names no directory: end it with the directory (tenant) id, or set tenant_id (%s)", l.AuthorityURL, why)
		return
	}
	at := authNode
	if at == nil {
		at = lcsNode
	}
	d.Errorf(at, where, "auth %s needs tenant_id: the directory (tenant) id of the app registration (Entra admin center → the app → Overview → Directory (tenant) ID); %s", l.Auth, why)
}

// sharedTenant reports whether a tenant is one of Entra's shared authorities.
func sharedTenant(t string) bool {
	switch strings.ToLower(strings.TrimSpace(t)) {
	case "common", "organizations", "consumers":
		return true
	}
	return false
}
