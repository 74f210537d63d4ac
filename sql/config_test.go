package sql

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestDSN(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want map[string]string
		user string
		host string
		path string
		err  error
	}{
		{name: "sql login on Azure", cfg: Config{Server: "contoso.database.windows.net", Database: "db", User: "jit", Password: "p@ss:w/rd", Encrypt: EncryptStrict},
			want: map[string]string{"database": "db", "app name": "cutover", "encrypt": "strict", "connection timeout": "15"}, user: "jit", host: "contoso.database.windows.net"},
		{name: "instance and port", cfg: Config{Server: `AXSQL01\PROD`, Database: "MicrosoftDynamicsAX", User: "u", Password: "x"},
			want: map[string]string{"encrypt": "true"}, host: "AXSQL01", path: "/PROD"},
		{name: "loopback may disable", cfg: Config{Server: "127.0.0.1:11433", Database: "AX", User: "cutover", Password: "x", Encrypt: EncryptDisable},
			want: map[string]string{"encrypt": "disable"}, host: "127.0.0.1:11433"},
		{name: "remote may not disable", cfg: Config{Server: "AXSQL01", Database: "AX", User: "u", Password: "x", Encrypt: EncryptDisable}, err: ErrInsecure},
		{name: "pinned certificate", cfg: Config{Server: "h", Database: "d", User: "u", Password: "x", Certificate: "/etc/ca.pem", HostNameInCertificate: "sql.contoso.com"},
			want: map[string]string{"certificate": "/etc/ca.pem", "hostnameincertificate": "sql.contoso.com"}},
		{name: "entra default", cfg: Config{Server: "s.database.windows.net", Database: "d", Auth: AuthEntraDefault},
			want: map[string]string{"fedauth": "ActiveDirectoryDefault"}},
		{name: "service principal", cfg: Config{Server: "s.database.windows.net", Database: "d", Auth: AuthEntraServicePrincipal, ClientID: "app", TenantID: "tenant", Password: "secret"},
			want: map[string]string{"fedauth": "ActiveDirectoryServicePrincipal"}, user: "app@tenant"},
		{name: "ntlm", cfg: Config{Server: "h", Database: "d", Auth: AuthWindows, User: `CONTOSO\svc`, Password: "x"}, user: `CONTOSO\svc`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dsn, err := c.cfg.DSN()
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(dsn)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.want {
				if got := u.Query().Get(k); got != v {
					t.Errorf("%s = %q, want %q (%s)", k, got, v, dsn)
				}
			}
			if c.user != "" && u.User.Username() != c.user {
				t.Errorf("user %q", u.User.Username())
			}
			if c.host != "" && u.Host != c.host {
				t.Errorf("host %q", u.Host)
			}
			if c.path != "" && u.Path != c.path {
				t.Errorf("path %q", u.Path)
			}
			if pw, _ := u.User.Password(); c.cfg.Password != "" && c.cfg.Auth != AuthEntraDefault && pw != c.cfg.Password {
				t.Errorf("password not carried")
			}
		})
	}
}

func TestRedactedAndWarnings(t *testing.T) {
	c := Config{Server: "h", Database: "d", User: "u", Password: "hunter2", TrustServerCertificate: true}
	if r := c.Redacted(); strings.Contains(r, "hunter2") || !strings.Contains(r, "xxxxx") {
		t.Fatalf("redacted DSN %q", r)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "NOT verified") {
		t.Fatalf("warnings %v", w)
	}
	if err := redactErr(errors.New("login failed for hunter2"), "hunter2"); strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("password in error: %v", err)
	}
	if QuoteName("CUST]TABLE") != "[dbo].[CUST]]TABLE]" || QuoteName("DBUPGRADE.X") != "[DBUPGRADE].[X]" {
		t.Fatalf("QuoteName: %s %s", QuoteName("CUST]TABLE"), QuoteName("DBUPGRADE.X"))
	}
}
