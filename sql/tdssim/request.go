package tdssim

import (
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

// readAllHeaders consumes ALL_HEADERS (MS-TDS 2.2.5.3) and returns the
// transaction descriptor, if any.
func readAllHeaders(r *byteReader) (uint64, error) {
	start := r.off
	total := int(r.u32())
	if r.err != nil {
		return 0, r.err
	}
	if total < 4 || total > len(r.b)-start {
		return 0, fmt.Errorf("%w: ALL_HEADERS length %d invalid for %d bytes", errProtocol, total, len(r.b)-start)
	}
	end := start + total
	var desc uint64
	for r.off < end {
		hstart := r.off
		hlen := int(r.u32())
		htype := r.u16()
		if r.err != nil {
			return 0, r.err
		}
		if hlen < 6 || hstart+hlen > end {
			return 0, fmt.Errorf("%w: header length %d invalid", errProtocol, hlen)
		}
		body := r.bytes(hlen - 6)
		if htype == 2 && len(body) >= 8 {
			desc = newByteReader(body).u64()
		}
	}
	return desc, r.err
}

// decodeSQLBatch returns the batch text.
func decodeSQLBatch(data []byte) (string, error) {
	r := newByteReader(data)
	if _, err := readAllHeaders(r); err != nil {
		return "", err
	}
	return decodeUCS2(data[r.off:])
}

// decodeRPC decodes an RPC request (MS-TDS 2.2.6.6). Only the first RPC of
// a batch is decoded; the driver never sends more than one.
func decodeRPC(data []byte) (*Request, error) {
	r := newByteReader(data)
	if _, err := readAllHeaders(r); err != nil {
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
		if b, _ := r.peek(); b == 0xFF || b == 0xFE {
			// BatchFlag / NoExecFlag (TDS 7.2+; unambiguous, since a
			// parameter name has at most 128 characters): further RPCs
			// in the same message are ignored; the driver never sends them.
			break
		}
		name := r.bVarChar()
		status := r.u8()
		if r.err != nil {
			return nil, fmt.Errorf("RPC parameter %d: %w", len(params)+1, r.err)
		}
		v, err := decodeParamValue(r)
		if err != nil {
			return nil, fmt.Errorf("RPC parameter %d (%q): %w", len(params)+1, name, err)
		}
		params = append(params, Param{Name: strings.TrimPrefix(name, "@"), Value: v, Output: status&0x01 != 0})
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
	txBegin    txOp = 5
	txCommit   txOp = 7
	txRollback txOp = 8
	txSave     txOp = 9
)

// txRequest is a decoded Transaction Manager request.
type txRequest struct {
	op        txOp
	isolation byte
	name      string
	// beginNew is set for commit/rollback with fBeginXact: start a new
	// transaction right away.
	beginNew bool
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
	}
	return fmt.Sprintf("TRANSACTION MANAGER REQUEST %d", t.op)
}

func decodeTransMgr(data []byte) (*txRequest, error) {
	r := newByteReader(data)
	if _, err := readAllHeaders(r); err != nil {
		return nil, err
	}
	t := &txRequest{op: txOp(r.u16())}
	switch t.op {
	case txBegin:
		t.isolation = r.u8()
		t.name = r.bVarChar()
	case txCommit, txRollback:
		t.name = r.bVarChar()
		flags := r.u8()
		if flags&0x01 != 0 {
			t.beginNew = true
			t.isolation = r.u8()
			_ = r.bVarChar()
		}
	case txSave:
		t.name = r.bVarChar()
	}
	if r.err != nil {
		return nil, fmt.Errorf("transaction manager request: %w", r.err)
	}
	return t, nil
}
