package tdssim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
)

// errShort is the sticky error of a byteReader that ran past its input.
var errShort = errors.New("tdssim: message truncated")

// byteReader is a bounds-checked little-endian reader over one TDS message
// payload. Every accessor returns a zero value once an error has occurred;
// callers check err at convenient points. It never panics on short input.
type byteReader struct {
	b   []byte
	off int
	err error
}

func newByteReader(b []byte) *byteReader { return &byteReader{b: b} }

func (r *byteReader) remaining() int {
	if r.err != nil {
		return 0
	}
	return len(r.b) - r.off
}

func (r *byteReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// bytes returns the next n bytes (aliasing the input) or nil on short input.
func (r *byteReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail(fmt.Errorf("%w: need %d bytes at offset %d, have %d", errShort, n, r.off, len(r.b)-r.off))
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *byteReader) u8() byte {
	v := r.bytes(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *byteReader) peek() (byte, bool) {
	if r.err != nil || r.off >= len(r.b) {
		return 0, false
	}
	return r.b[r.off], true
}

func (r *byteReader) u16() uint16 {
	v := r.bytes(2)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(v)
}

func (r *byteReader) u32() uint32 {
	v := r.bytes(4)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(v)
}

func (r *byteReader) u64() uint64 {
	v := r.bytes(8)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(v)
}

// ucs2 reads n UTF-16 code units.
func (r *byteReader) ucs2(n int) string {
	v := r.bytes(2 * n)
	if v == nil {
		return ""
	}
	s, err := decodeUCS2(v)
	if err != nil {
		r.fail(err)
	}
	return s
}

// bVarChar reads a B_VARCHAR (byte length in characters + UCS-2).
func (r *byteReader) bVarChar() string { return r.ucs2(int(r.u8())) }

// usVarChar reads a US_VARCHAR (u16 length in characters + UCS-2).
func (r *byteReader) usVarChar() string { return r.ucs2(int(r.u16())) }

// decodeUCS2 decodes UTF-16LE bytes. Unpaired surrogates become U+FFFD.
func decodeUCS2(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("tdssim: odd UCS-2 byte length %d", len(b))
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(units)), nil
}

// ucs2Len returns the number of UTF-16 code units needed for s.
func ucs2Len(s string) int {
	n := 0
	for _, r := range s { // invalid UTF-8 yields U+FFFD, one unit
		n += utf16.RuneLen(r)
	}
	return n
}

// appendUCS2 appends s as UTF-16LE, writing at most maxUnits code units
// (maxUnits < 0 means unlimited) without splitting a surrogate pair.
// It returns the new slice and the number of code units written.
func appendUCS2(b []byte, s string, maxUnits int) ([]byte, int) {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			if maxUnits >= 0 && n+2 > maxUnits {
				break
			}
			r1, r2 := utf16.EncodeRune(r)
			b = binary.LittleEndian.AppendUint16(b, uint16(r1))
			b = binary.LittleEndian.AppendUint16(b, uint16(r2))
			n += 2
			continue
		}
		if maxUnits >= 0 && n+1 > maxUnits {
			break
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(r))
		n++
	}
	return b, n
}

// ucs2Bytes returns s encoded as UTF-16LE.
func ucs2Bytes(s string) []byte {
	b, _ := appendUCS2(make([]byte, 0, 2*len(s)), s, -1)
	return b
}

// appendBVarChar appends a B_VARCHAR, truncating to 255 code units.
func appendBVarChar(b []byte, s string) []byte {
	at := len(b)
	b = append(b, 0)
	b, n := appendUCS2(b, s, 255)
	b[at] = byte(n)
	return b
}

// appendUSVarChar appends a US_VARCHAR, truncating to maxUnits code units
// (at most 65535).
func appendUSVarChar(b []byte, s string, maxUnits int) []byte {
	if maxUnits < 0 || maxUnits > 0xFFFF {
		maxUnits = 0xFFFF
	}
	at := len(b)
	b = append(b, 0, 0)
	b, n := appendUCS2(b, s, maxUnits)
	binary.LittleEndian.PutUint16(b[at:], uint16(n))
	return b
}

// appendBVarByte appends a B_VARBYTE (byte length + bytes, max 255).
func appendBVarByte(b []byte, v []byte) []byte {
	if len(v) > 255 {
		v = v[:255]
	}
	b = append(b, byte(len(v)))
	return append(b, v...)
}

func appendU16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }
