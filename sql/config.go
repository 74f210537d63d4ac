// Package sql is cutover's access to SQL Server through github.com/microsoft/go-mssqldb: the AX
// 2012 source database, its distribution database and the Azure SQL sandbox. It owns every query
// (their texts are in sql/query) and returns plain structs; it knows nothing of the engine or the
// front ends.
package sql

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// AppName is how cutover's sessions appear in sys.dm_exec_sessions.program_name.
const AppName = "cutover"

// Auth is how a connection signs in.
type Auth string

// Sign-in modes.
const (
	// AuthSQL is a SQL Server login (the only kind the Azure SQL sandbox's JIT access gives).
	AuthSQL Auth = "sql"
	// AuthWindows is integrated security: NTLM with DOMAIN\user and a password on any platform, or
	// the current Windows account (SSPI) when no user is given, on Windows.
	AuthWindows Auth = "windows"
	// The Entra ID modes go through go-mssqldb's azuread connector.
	AuthEntraDefault          Auth = "entra-default"
	AuthEntraPassword         Auth = "entra-password"
	AuthEntraServicePrincipal Auth = "entra-service-principal"
	AuthEntraManagedIdentity  Auth = "entra-managed-identity"
	AuthEntraInteractive      Auth = "entra-interactive"
	AuthEntraDeviceCode       Auth = "entra-device-code"
)

// fedauth maps the Entra ID modes to go-mssqldb's fedauth values.
func (a Auth) fedauth() string {
	switch a {
	case AuthEntraDefault:
		return "ActiveDirectoryDefault"
	case AuthEntraPassword:
		return "ActiveDirectoryPassword"
	case AuthEntraServicePrincipal:
		return "ActiveDirectoryServicePrincipal"
	case AuthEntraManagedIdentity:
		return "ActiveDirectoryManagedIdentity"
	case AuthEntraInteractive:
		return "ActiveDirectoryInteractive"
	case AuthEntraDeviceCode:
		return "ActiveDirectoryDeviceCode"
	}
	return ""
}

// Encryption is go-mssqldb's encrypt= setting.
type Encryption string

// Encryption settings.
const (
	// EncryptDisable sends everything in clear: allowed only for a server on this machine.
	EncryptDisable Encryption = "disable"
	// EncryptTrue encrypts the whole session (TLS negotiated inside TDS).
	EncryptTrue Encryption = "true"
	// EncryptStrict is TDS 8.0: TLS before anything else (Azure SQL supports it).
	EncryptStrict Encryption = "strict"
)

// Config describes one SQL Server database connection. Secrets are resolved by the caller (from
// an environment variable or a file) and held only in memory.
type Config struct {
	// Server is a host name or address, optionally with \INSTANCE or :port.
	Server   string
	Port     int
	Instance string
	Database string
	Auth     Auth
	User     string
	// Password is the SQL or Windows password, or the service principal's secret.
	Password string
	ClientID string
	TenantID string
	Encrypt  Encryption
	// TrustServerCertificate accepts any server certificate. Only with an explicit setting, and it
	// is reported as a warning every time a connection is opened.
	TrustServerCertificate bool
	// Certificate pins a CA or server certificate file the server's certificate must chain to.
	Certificate           string
	HostNameInCertificate string
	// ConnectTimeout bounds a login (default 15s); QueryTimeout every query (default 30s);
	// CountTimeout each exact COUNT_BIG (default 10 minutes).
	ConnectTimeout time.Duration
	QueryTimeout   time.Duration
	CountTimeout   time.Duration
	// MaxOpen caps the pool (default 8).
	MaxOpen int
}

func (c Config) withDefaults() Config {
	if c.Auth == "" {
		c.Auth = AuthSQL
	}
	if c.Encrypt == "" {
		c.Encrypt = EncryptTrue
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 15 * time.Second
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 30 * time.Second
	}
	if c.CountTimeout <= 0 {
		c.CountTimeout = 10 * time.Minute
	}
	if c.MaxOpen <= 0 {
		c.MaxOpen = 8
	}
	return c
}

// ErrInsecure is returned when encryption would be turned off for a server that is not this machine.
var ErrInsecure = errors.New("encryption can only be disabled for a server on this machine")

// host returns the host part of Server.
func (c Config) host() (host, instance string, port int) {
	host, instance, port = c.Server, c.Instance, c.Port
	if i := strings.IndexByte(host, '\\'); i >= 0 {
		host, instance = host[:i], host[i+1:]
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			host, port = h, n
		}
	}
	return host, instance, port
}

// Loopback reports whether the server is this machine.
func (c Config) Loopback() bool {
	host, _, _ := c.host()
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") || host == "." || strings.EqualFold(host, "(local)") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Warnings are the risks of a configuration worth saying out loud.
func (c Config) Warnings() []string {
	var w []string
	if c.TrustServerCertificate {
		w = append(w, fmt.Sprintf("%s: trust_server_certificate is on: the server's certificate is NOT verified, so anyone in the network path can read and change this session; pin the certificate instead", c.Server))
	}
	return w
}

// DSN renders the go-mssqldb connection URL (it contains the password: never log it; use Redacted).
func (c Config) DSN() (string, error) {
	c = c.withDefaults()
	host, instance, port := c.host()
	if host == "" {
		return "", errors.New("sql: no server")
	}
	if c.Database == "" {
		return "", errors.New("sql: no database")
	}
	if c.Encrypt == EncryptDisable && !c.Loopback() {
		return "", fmt.Errorf("%w: %s needs encrypt true or strict", ErrInsecure, c.Server)
	}
	u := &url.URL{Scheme: "sqlserver", Host: host}
	if port > 0 {
		u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	}
	if instance != "" {
		u.Path = "/" + instance
	}
	q := url.Values{}
	q.Set("database", c.Database)
	q.Set("app name", AppName)
	q.Set("encrypt", string(c.Encrypt))
	q.Set("connection timeout", strconv.Itoa(int(c.ConnectTimeout/time.Second)))
	q.Set("dial timeout", strconv.Itoa(int(c.ConnectTimeout/time.Second)))
	if c.TrustServerCertificate {
		q.Set("TrustServerCertificate", "true")
	}
	if c.Certificate != "" {
		q.Set("certificate", c.Certificate)
	}
	if c.HostNameInCertificate != "" {
		q.Set("hostnameincertificate", c.HostNameInCertificate)
	}
	switch c.Auth {
	case AuthSQL:
		if c.User == "" {
			return "", errors.New("sql: a SQL login needs a user")
		}
		u.User = url.UserPassword(c.User, c.Password)
	case AuthWindows:
		if c.User != "" {
			// NTLM (DOMAIN\user) works on every platform.
			u.User = url.UserPassword(c.User, c.Password)
		} else if runtime.GOOS != "windows" {
			return "", errors.New("sql: windows authentication without a user works only on Windows (SSPI); give user DOMAIN\\name and a password for NTLM")
		}
	default:
		fed := c.Auth.fedauth()
		if fed == "" {
			return "", fmt.Errorf("sql: unknown auth %q", c.Auth)
		}
		q.Set("fedauth", fed)
		switch c.Auth {
		case AuthEntraPassword:
			u.User = url.UserPassword(c.User, c.Password)
			if c.ClientID != "" {
				q.Set("applicationclientid", c.ClientID)
			}
		case AuthEntraServicePrincipal:
			id := c.ClientID
			if c.TenantID != "" {
				id += "@" + c.TenantID
			}
			u.User = url.UserPassword(id, c.Password)
		case AuthEntraManagedIdentity:
			if c.ClientID != "" {
				u.User = url.User(c.ClientID)
			}
		default:
			if c.ClientID != "" {
				q.Set("applicationclientid", c.ClientID)
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Redacted is the DSN with the password replaced, for logs and messages.
func (c Config) Redacted() string {
	saved := c.Password
	if saved != "" {
		c.Password = "xxxxx"
	}
	dsn, err := c.DSN()
	if err != nil {
		return fmt.Sprintf("%s/%s (%v)", c.Server, c.Database, err)
	}
	return dsn
}
