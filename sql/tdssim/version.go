package tdssim

import "fmt"

// TDSVersion is a TDS protocol version, numbered as the client sends it in
// LOGIN7 (MS-TDS 2.2.6.4 TDSVersion, read as a little-endian DWORD: the
// bytes 04 00 00 74 are 0x74000004, TDS 7.4). The session's version decides
// the layout of every token the server sends (MS-TDS marks each difference
// with "introduced in TDS 7.x").
type TDSVersion uint32

// The TDS versions a LOGIN7 can ask for, from MS-TDS appendix A note <17>
// ("The version numbers used by clients").
const (
	// TDS70 is SQL Server 7.0's TDS (0x00000070 in network order).
	TDS70 TDSVersion = 0x70000000
	// TDS71 is SQL Server 2000's TDS 7.1.
	TDS71 TDSVersion = 0x71000000
	// TDS71Rev1 is SQL Server 2000 SP1's TDS 7.1 revision 1.
	TDS71Rev1 TDSVersion = 0x71000001
	// TDS72 is SQL Server 2005's TDS 7.2.
	TDS72 TDSVersion = 0x72090002
	// TDS73A is SQL Server 2008's TDS 7.3 (7.3.A: no NBCROW, no sparse
	// column sets).
	TDS73A TDSVersion = 0x730A0003
	// TDS73B is SQL Server 2008 R2's TDS 7.3.B.
	TDS73B TDSVersion = 0x730B0003
	// TDS74 is TDS 7.4 (SQL Server 2012 and later, Azure SQL).
	TDS74 TDSVersion = 0x74000004
	// TDS80 is TDS 8.0 (MS-TDS 1.7): identified by the TLS handshake that
	// comes before any TDS message (ALPN "tds/8.0"), never by LOGIN7,
	// whose version field is then ignored. The value is internal (it sorts
	// after every 7.x version); the token layouts are those of TDS 7.4.
	TDS80 TDSVersion = 0x80000000
)

// versionTable maps each client version to the LOGINACK TDSVersion the server
// answers, in network byte order, from MS-TDS appendix A note <69> (section
// 2.2.7.14: "Client to server" and "Server to client" columns).
var versionTable = []struct {
	client TDSVersion
	ack    uint32
	name   string
}{
	{TDS70, 0x07000000, "7.0"},
	{TDS71, 0x07010000, "7.1"},
	{TDS71Rev1, 0x71000001, "7.1 rev 1"},
	{TDS72, 0x72090002, "7.2"},
	{TDS73A, 0x730A0003, "7.3.A"},
	{TDS73B, 0x730B0003, "7.3.B"},
	{TDS74, 0x74000004, "7.4"},
}

// String names the version ("7.4", "8.0").
func (v TDSVersion) String() string {
	if v == TDS80 {
		return "8.0"
	}
	for _, e := range versionTable {
		if e.client == v {
			return e.name
		}
	}
	return fmt.Sprintf("TDSVersion(%#08x)", uint32(v))
}

// loginAck is the TDSVersion field of the LOGINACK token for a negotiated
// version. MS-TDS lists no LOGINACK value for TDS 8.0 (the appendix table's
// SQL Server 2022 row is "in TDS 7.x flow"); a TDS 8.0 session gets the 7.4
// value, whose token layouts it uses.
func (v TDSVersion) loginAck() uint32 {
	for _, e := range versionTable {
		if e.client == v {
			return e.ack
		}
	}
	return 0x74000004
}

// atLeast reports whether v is o or later.
func (v TDSVersion) atLeast(o TDSVersion) bool { return v >= o }

// negotiateVersion picks the session's version for a LOGIN7 TDSVersion, as
// MS-TDS 2.2.6.4 says: a client asking for more than the server knows gets
// the server's highest version (7.4), a client asking for less gets exactly
// what it asked for. A value between two known versions gets the highest
// known version below it. TDS 8.0 clients send 0x08000000 (MS-TDS says the
// field "does not have to be specified" in 8.0 and is ignored); in a TDS 7.x
// flow that asks for more than 7.4, so it gets 7.4. A value that is no TDS
// 7.x or 8.0 version (TDS 4.2 and 5.0 logins have another layout) is refused.
func negotiateVersion(client uint32) (TDSVersion, error) {
	c := TDSVersion(client)
	switch {
	case client>>24 == 0x08:
		return TDS74, nil
	case c < TDS70 || client>>28 != 0x7:
		return 0, fmt.Errorf("%w: LOGIN7 asks for TDS version %#08x, not a TDS 7.x or 8.0 version", errProtocol, client)
	}
	best := versionTable[0].client
	for _, e := range versionTable {
		if e.client <= c {
			best = e.client
		}
	}
	return best, nil
}
