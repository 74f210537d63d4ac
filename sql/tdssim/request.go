package tdssim

import (
	"errors"
	"fmt"
	"strings"
)

// procExecuteSQL is the well-known ProcID of sp_executesql.
const procExecuteSQL = 10

// procName maps well-known RPC ProcIDs (MS-TDS 2.2.6.6) to names.
func procName(id uint16) string {
	switch id {
	case 1:
		return "sp_cursor"
	case 2:
		return "sp_cursoropen"
	case 3:
		return "sp_cursorprepare"
	case 4:
		return "sp_cursorexecute"
	case 5:
		return "sp_cursorprepexec"
	case 6:
		return "sp_cursorunprepare"
	case 7:
		return "sp_cursorfetch"
	case 8:
		return "sp_cursoroption"
	case 9:
		return "sp_cursorclose"
	case 10:
		return "sp_executesql"
	case 11:
		return "sp_prepare"
	case 12:
		return "sp_execute"
	case 13:
		return "sp_prepexec"
	case 14:
		return "sp_prepexecrpc"
	case 15:
		return "sp_unprepare"
	}
	return fmt.Sprintf("sp_procid_%d", id)
}

// errHeaders marks a broken ALL_HEADERS block; the server answers it with
// error 4009.
var errHeaders = errors.New("tdssim: bad ALL_HEADERS")

// ALL_HEADERS header types (MS-TDS 2.2.5.3).
const (
	hdrQueryNotifications = 1
	hdrTransaction        = 2
	hdrTraceActivity      = 3
)

// readAllHeaders consumes ALL_HEADERS (MS-TDS 2.2.5.3), which SQLBatch,
// RPCRequest and TransMgrReq carry from TDS 7.2 on (and never before), and
// returns the transaction descriptor. It holds the block to the spec's
// table: the Transaction Descriptor header is required, Query
// Notifications are disallowed in a Transaction Manager request, each
// header appears at most once, and "If the negotiated TDS major version is
// less than TDS 7.4 and the server receives a Trace Activity header token,
// the server MUST reject the request with a TDS protocol error."
func readAllHeaders(r *byteReader, v TDSVersion, transMgr bool) (uint64, error) {
	start := r.off
	total := int(r.u32())
	if r.err != nil {
		return 0, fmt.Errorf("%w: %w", errHeaders, r.err)
	}
	if total < 4 || total > len(r.b)-start {
		return 0, fmt.Errorf("%w: ALL_HEADERS length %d invalid for %d bytes", errHeaders, total, len(r.b)-start)
	}
	end := start + total
	var desc uint64
	seen := map[uint16]bool{}
	for r.off < end {
		hstart := r.off
		hlen := int(r.u32())
		htype := r.u16()
		if r.err != nil {
			return 0, fmt.Errorf("%w: %w", errHeaders, r.err)
		}
		if hlen < 6 || hstart+hlen > end {
			return 0, fmt.Errorf("%w: header length %d invalid", errHeaders, hlen)
		}
		if seen[htype] {
			return 0, fmt.Errorf("%w: header type %d appears twice", errHeaders, htype)
		}
		seen[htype] = true
		body := r.bytes(hlen - 6)
		switch htype {
		case hdrQueryNotifications:
			if transMgr {
				return 0, fmt.Errorf("%w: a Query Notifications header in a Transaction Manager request", errHeaders)
			}
		case hdrTransaction:
			if len(body) != 12 { // TransactionDescriptor ULONGLONG + OutstandingRequestCount DWORD
				return 0, fmt.Errorf("%w: Transaction Descriptor header of %d bytes", errHeaders, len(body))
			}
			desc = newByteReader(body).u64()
		case hdrTraceActivity:
			if !v.atLeast(TDS74) {
				return 0, fmt.Errorf("%w: a Trace Activity header in a TDS %v session", errHeaders, v)
			}
			if len(body) != 20 { // ActivityId GUID + ActivitySequence ULONG
				return 0, fmt.Errorf("%w: Trace Activity header of %d bytes", errHeaders, len(body))
			}
		default:
			return 0, fmt.Errorf("%w: unknown header type %d", errHeaders, htype)
		}
	}
	if !seen[hdrTransaction] {
		return 0, fmt.Errorf("%w: no Transaction Descriptor header", errHeaders)
	}
	return desc, r.err
}

// skipAllHeaders reads ALL_HEADERS when version v has them (TDS 7.2 on).
func skipAllHeaders(r *byteReader, v TDSVersion, transMgr bool) error {
	if !v.atLeast(TDS72) {
		return nil
	}
	_, err := readAllHeaders(r, v, transMgr)
	return err
}

// decodeSQLBatch returns the batch text (MS-TDS 2.2.6.7): ALL_HEADERS from
// TDS 7.2 on, then the UCS-2 text to the end of the message.
func decodeSQLBatch(data []byte, v TDSVersion) (string, error) {
	r := newByteReader(data)
	if err := skipAllHeaders(r, v, false); err != nil {
		return "", err
	}
	return decodeUCS2(data[r.off:])
}

// decodeRPC decodes an RPC request (MS-TDS 2.2.6.6). Only the first RPC of
// a batch is decoded; the driver never sends more than one. The separator
// of batched RPCs is BatchFlag 0x80 before TDS 7.2, 0xFF (or NoExecFlag
// 0xFE) from 7.2 on.
func decodeRPC(data []byte, v TDSVersion) (*Request, error) {
	r := newByteReader(data)
	if err := skipAllHeaders(r, v, false); err != nil {
		return nil, err
	}
	req := &Request{Kind: RequestRPC}
	nameLen := r.u16()
	procID := uint16(0)
	if nameLen == 0xFFFF {
		procID = r.u16()
	} else {
		req.Proc = r.ucs2(int(nameLen))
	}
	_ = r.u16() // option flags
	if r.err != nil {
		return nil, fmt.Errorf("RPC header: %w", r.err)
	}
	var params []Param
	for r.remaining() > 0 {
		b, _ := r.peek()
		if (v.atLeast(TDS72) && (b == 0xFF || b == 0xFE)) || (!v.atLeast(TDS72) && b == 0x80) {
			// BatchFlag / NoExecFlag (unambiguous from 7.2 on, since a
			// parameter name has at most 128 characters; before 7.2 a
			// 128-character name would read as BatchFlag). One after the
			// last RPC "the server MUST ignore"; another RPC after it is
			// refused loudly: this server runs one RPC per message (the
			// driver never sends more), and skipping the rest would hide
			// them.
			if r.remaining() > 1 {
				return nil, errors.New("several RPCs in one message are not supported by this simulator")
			}
			break
		}
		name := r.bVarChar()
		status := r.u8()
		if r.err != nil {
			return nil, fmt.Errorf("RPC parameter %d: %w", len(params)+1, r.err)
		}
		val, err := decodeParamValue(r, v)
		if err != nil {
			return nil, fmt.Errorf("RPC parameter %d (%q): %w", len(params)+1, name, err)
		}
		params = append(params, Param{Name: strings.TrimPrefix(name, "@"), Value: val, Output: status&0x01 != 0})
	}
	if procID != 0 && procID != procExecuteSQL {
		req.Proc = procName(procID)
	}
	if procID == procExecuteSQL {
		if len(params) == 0 {
			return nil, fmt.Errorf("sp_executesql without a statement")
		}
		stmt, ok := params[0].Value.(string)
		if !ok {
			return nil, fmt.Errorf("sp_executesql statement is %T, not a string", params[0].Value)
		}
		if strings.TrimSpace(stmt) == "" {
			return nil, fmt.Errorf("sp_executesql with an empty statement")
		}
		req.SQL = stmt
		params = params[1:]
		if len(params) > 0 {
			if decl, ok := params[0].Value.(string); ok || params[0].Value == nil {
				req.ParamDecl = decl
				params = params[1:]
			}
		}
	}
	req.Params = params
	return req, nil
}

// txOp is a Transaction Manager request type (MS-TDS 2.2.6.9).
type txOp uint16

const (
	txGetDTCAddress txOp = 0
	txPropagate     txOp = 1
	txBegin         txOp = 5
	txPromote       txOp = 6
	txCommit        txOp = 7
	txRollback      txOp = 8
	txSave          txOp = 9
)

// errUnknownTxRequest is a Transaction Manager request of a type the
// session's version does not define: "If an unknown Type is specified, the
// message receiver SHOULD disconnect the connection."
var errUnknownTxRequest = errors.New("tdssim: unknown transaction manager request type")

// txRequest is a decoded Transaction Manager request.
type txRequest struct {
	op        txOp
	isolation byte
	// name is BEGIN_XACT_NAME (begin), XACT_NAME (commit, rollback) or
	// XACT_SAVEPOINT_NAME (save).
	name string
	// beginNew is fBeginXact of commit/rollback: start a new transaction
	// (named beginName) afterwards.
	beginNew  bool
	beginName string
}

func (t *txRequest) sql() string {
	switch t.op {
	case txBegin:
		return "BEGIN TRANSACTION"
	case txCommit:
		return "COMMIT TRANSACTION"
	case txRollback:
		return "ROLLBACK TRANSACTION"
	case txSave:
		return "SAVE TRANSACTION"
	case txGetDTCAddress:
		return "TM_GET_DTC_ADDRESS"
	case txPropagate:
		return "TM_PROPAGATE_XACT"
	case txPromote:
		return "TM_PROMOTE_XACT"
	}
	return fmt.Sprintf("TRANSACTION MANAGER REQUEST %d", t.op)
}

// decodeTransMgr decodes a TransMgrReq (MS-TDS 2.2.6.9): ALL_HEADERS (TDS
// 7.2 on), RequestType, then the payload of that type. Types 5 to 9 came
// with TDS 7.2. Transaction and savepoint names are B_VARBYTE: a byte
// count, then the name in UCS-2. ISOLATION_LEVEL "MUST have one of" the
// values 0 to 5. Bytes after the payload make the request malformed.
func decodeTransMgr(data []byte, v TDSVersion) (*txRequest, error) {
	r := newByteReader(data)
	if err := skipAllHeaders(r, v, true); err != nil {
		return nil, err
	}
	t := &txRequest{op: txOp(r.u16())}
	if r.err != nil {
		return nil, fmt.Errorf("transaction manager request: %w", r.err)
	}
	name := func() string {
		b := r.bytes(int(r.u8()))
		if r.err != nil {
			return ""
		}
		if len(b)%2 != 0 {
			r.fail(fmt.Errorf("transaction name of %d bytes is not UCS-2", len(b)))
			return ""
		}
		s, err := decodeUCS2(b)
		if err != nil {
			r.fail(err)
		}
		return s
	}
	isolation := func() byte {
		l := r.u8()
		if r.err == nil && l > 5 {
			r.fail(fmt.Errorf("isolation level %d is not 0..5", l))
		}
		return l
	}
	switch {
	case t.op == txGetDTCAddress || t.op == txPropagate:
		_ = r.bytes(int(r.u16())) // US_VARBYTE
	case !v.atLeast(TDS72):
		return nil, fmt.Errorf("%w: %d in a TDS %v session (types 5 to 9 came with TDS 7.2)", errUnknownTxRequest, t.op, v)
	case t.op == txBegin:
		t.isolation = isolation()
		t.name = name()
	case t.op == txPromote:
	case t.op == txCommit || t.op == txRollback:
		t.name = name()
		flags := r.u8()
		if flags&0x01 != 0 {
			t.beginNew = true
			// ISOLATION_LEVEL and BEGIN_XACT_NAME are both there with
			// fBeginXact ("[ISOLATION_LEVEL BEGIN_XACT_NAME]").
			t.isolation = isolation()
			t.beginName = name()
		}
	case t.op == txSave:
		t.name = name()
	default:
		return nil, fmt.Errorf("%w: %d", errUnknownTxRequest, t.op)
	}
	if r.err != nil {
		return nil, fmt.Errorf("transaction manager request %d: %w", t.op, r.err)
	}
	if n := r.remaining(); n != 0 {
		return nil, fmt.Errorf("transaction manager request %d: %d bytes after the payload", t.op, n)
	}
	return t, nil
}
