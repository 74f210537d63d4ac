package tdssim

import "encoding/binary"

// tokenType is a token-stream token byte (MS-TDS 2.2.7). Only tokens that
// go-mssqldb understands are ever sent.
type tokenType byte

const (
	tokReturnStatus tokenType = 0x79
	tokColMetadata  tokenType = 0x81
	tokError        tokenType = 0xAA
	tokInfo         tokenType = 0xAB
	tokLoginAck     tokenType = 0xAD
	tokRow          tokenType = 0xD1
	tokEnvChange    tokenType = 0xE3
	tokDone         tokenType = 0xFD
	tokDoneProc     tokenType = 0xFE
	tokDoneInProc   tokenType = 0xFF
)

// DONE status bits (MS-TDS 2.2.7.6).
const (
	doneFinal    uint16 = 0x00
	doneMore     uint16 = 0x01
	doneError    uint16 = 0x02
	doneInXact   uint16 = 0x04
	doneCount    uint16 = 0x10
	doneAttn     uint16 = 0x20
	doneSrvError uint16 = 0x100
)

// DONE CurCmd values (undocumented but stable).
const (
	cmdSelect  uint16 = 0xC1
	cmdUpdate  uint16 = 0xC5
	cmdExecute uint16 = 0xE0
)

// ENVCHANGE types (MS-TDS 2.2.7.9).
const (
	envDatabase     byte = 1
	envLanguage     byte = 2
	envPacketSize   byte = 4
	envSQLCollation byte = 7
	envBeginTran    byte = 8
	envCommitTran   byte = 9
	envRollbackTran byte = 10
)

// collationLatin1 is SQL_Latin1_General_CP1_CI_AS.
const collationLatin1 = "\x09\x04\xD0\x00\x34"

// doneToken is a pending DONE/DONEPROC/DONEINPROC.
type doneToken struct {
	tok    tokenType
	status uint16
	curCmd uint16
	count  uint64
}

// appendDone appends a DONE, DONEPROC or DONEINPROC token. DoneRowCount is
// a LONG before TDS 7.2 and a ULONGLONG from 7.2 on (MS-TDS 2.2.7.6).
func appendDone(b []byte, v TDSVersion, d doneToken) []byte {
	b = append(b, byte(d.tok))
	b = appendU16(b, d.status)
	b = appendU16(b, d.curCmd)
	if !v.atLeast(TDS72) {
		return appendU32(b, uint32(min(d.count, 1<<31-1)))
	}
	return appendU64(b, d.count)
}

// maxMessageUnits caps ERROR/INFO message text so the token length fits.
const maxMessageUnits = 4000

// appendMessage appends an ERROR or INFO token. LineNumber is a USHORT
// before TDS 7.2 and a LONG from 7.2 on (MS-TDS 2.2.7.10, 2.2.7.13).
func appendMessage(b []byte, v TDSVersion, tok tokenType, number int32, state, class uint8, msg, server, proc string, line int32) []byte {
	b = append(b, byte(tok), 0, 0)
	at := len(b)
	b = appendU32(b, uint32(number))
	b = append(b, state, class)
	b = appendUSVarChar(b, msg, maxMessageUnits)
	b = appendBVarChar(b, server)
	b = appendBVarChar(b, proc)
	if !v.atLeast(TDS72) {
		b = appendU16(b, uint16(min(max(line, 0), 0xFFFF)))
	} else {
		b = appendU32(b, uint32(line))
	}
	binary.LittleEndian.PutUint16(b[at-2:], uint16(len(b)-at))
	return b
}

// appendLoginAck appends a LOGINACK token. tdsVersion is written big-endian
// as on the wire (0x74000004 -> 74 00 00 04); progVer is major, minor,
// build high byte, build low byte.
func appendLoginAck(b []byte, tdsVersion uint32, progName string, progVer [4]byte) []byte {
	b = append(b, byte(tokLoginAck), 0, 0)
	at := len(b)
	b = append(b, 1) // interface: T-SQL
	b = binary.BigEndian.AppendUint32(b, tdsVersion)
	b = appendBVarChar(b, progName)
	b = append(b, progVer[:]...)
	binary.LittleEndian.PutUint16(b[at-2:], uint16(len(b)-at))
	return b
}

// appendEnvChangeString appends an ENVCHANGE with B_VARCHAR values.
func appendEnvChangeString(b []byte, typ byte, newValue, oldValue string) []byte {
	b = append(b, byte(tokEnvChange), 0, 0)
	at := len(b)
	b = append(b, typ)
	b = appendBVarChar(b, newValue)
	b = appendBVarChar(b, oldValue)
	binary.LittleEndian.PutUint16(b[at-2:], uint16(len(b)-at))
	return b
}

// appendEnvChangeBytes appends an ENVCHANGE with B_VARBYTE values.
func appendEnvChangeBytes(b []byte, typ byte, newValue, oldValue []byte) []byte {
	b = append(b, byte(tokEnvChange), 0, 0)
	at := len(b)
	b = append(b, typ)
	b = appendBVarByte(b, newValue)
	b = appendBVarByte(b, oldValue)
	binary.LittleEndian.PutUint16(b[at-2:], uint16(len(b)-at))
	return b
}

func appendReturnStatus(b []byte, v int32) []byte {
	b = append(b, byte(tokReturnStatus))
	return appendU32(b, uint32(v))
}
