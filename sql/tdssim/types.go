package tdssim

import (
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"
)

// ColumnType is the SQL type of a result column.
type ColumnType int

const (
	// TypeInt is INT (INTN, 4 bytes).
	TypeInt ColumnType = iota + 1
	// TypeBigInt is BIGINT (INTN, 8 bytes).
	TypeBigInt
	// TypeSmallInt is SMALLINT (INTN, 2 bytes).
	TypeSmallInt
	// TypeTinyInt is TINYINT (INTN, 1 byte, 0..255).
	TypeTinyInt
	// TypeBit is BIT.
	TypeBit
	// TypeFloat is FLOAT (8-byte IEEE).
	TypeFloat
	// TypeReal is REAL (4-byte IEEE).
	TypeReal
	// TypeDecimal is DECIMAL(Precision, Scale); Precision 0 means 18.
	TypeDecimal
	// TypeDateTime is the legacy DATETIME (1/300 s, 1753..9999).
	TypeDateTime
	// TypeDateTime2 is DATETIME2(7).
	TypeDateTime2
	// TypeDate is DATE.
	TypeDate
	// TypeDateTimeOffset is DATETIMEOFFSET(7).
	TypeDateTimeOffset
	// TypeNVarChar is NVARCHAR(Size); Size is in characters (UTF-16
	// units), 1..4000, 0 meaning 4000.
	TypeNVarChar
	// TypeNVarCharMax is NVARCHAR(MAX), sent as PLP.
	TypeNVarCharMax
	// TypeVarBinary is VARBINARY(Size); Size 1..8000, 0 meaning 8000.
	TypeVarBinary
	// TypeVarBinaryMax is VARBINARY(MAX), sent as PLP.
	TypeVarBinaryMax
	// TypeUniqueIdentifier is UNIQUEIDENTIFIER.
	TypeUniqueIdentifier
	// TypeNText is the legacy NTEXT (a LONGLEN type: text pointer, timestamp and length before
	// the UTF-16 data, MS-TDS 2.2.5.2.3 and 2.2.5.4.2), as some system tables still declare
	// their long text columns (MSrepl_errors.error_text).
	TypeNText
)

// String returns the SQL type name.
func (t ColumnType) String() string {
	switch t {
	case TypeInt:
		return "INT"
	case TypeBigInt:
		return "BIGINT"
	case TypeSmallInt:
		return "SMALLINT"
	case TypeTinyInt:
		return "TINYINT"
	case TypeBit:
		return "BIT"
	case TypeFloat:
		return "FLOAT"
	case TypeReal:
		return "REAL"
	case TypeDecimal:
		return "DECIMAL"
	case TypeDateTime:
		return "DATETIME"
	case TypeDateTime2:
		return "DATETIME2"
	case TypeDate:
		return "DATE"
	case TypeDateTimeOffset:
		return "DATETIMEOFFSET"
	case TypeNVarChar:
		return "NVARCHAR"
	case TypeNVarCharMax:
		return "NVARCHAR(MAX)"
	case TypeVarBinary:
		return "VARBINARY"
	case TypeVarBinaryMax:
		return "VARBINARY(MAX)"
	case TypeUniqueIdentifier:
		return "UNIQUEIDENTIFIER"
	case TypeNText:
		return "NTEXT"
	default:
		return fmt.Sprintf("ColumnType(%d)", int(t))
	}
}

const (
	maxNVarChar   = 4000
	maxVarBinary  = 8000
	plpNull       = 0xFFFFFFFFFFFFFFFF
	plpUnknownLen = 0xFFFFFFFFFFFFFFFE
	plpChunk      = 8000
)

// TDS data type ids (MS-TDS 2.2.5.4).
const (
	typeNull       byte = 0x1F
	typeInt1       byte = 0x30
	typeBit        byte = 0x32
	typeInt2       byte = 0x34
	typeInt4       byte = 0x38
	typeDateTim4   byte = 0x3A
	typeFlt4       byte = 0x3B
	typeMoney      byte = 0x3C
	typeDateTime   byte = 0x3D
	typeFlt8       byte = 0x3E
	typeMoney4     byte = 0x7A
	typeInt8       byte = 0x7F
	typeGUID       byte = 0x24
	typeIntN       byte = 0x26
	typeDecimal    byte = 0x37
	typeNumeric    byte = 0x3F
	typeBitN       byte = 0x68
	typeDecimalN   byte = 0x6A
	typeNumericN   byte = 0x6C
	typeFltN       byte = 0x6D
	typeMoneyN     byte = 0x6E
	typeDateTimeN  byte = 0x6F
	typeDateN      byte = 0x28
	typeTimeN      byte = 0x29
	typeDateTime2N byte = 0x2A
	typeDTOffsetN  byte = 0x2B
	typeChar       byte = 0x2F
	typeVarChar    byte = 0x27
	typeBinary     byte = 0x2D
	typeVarBinary  byte = 0x25
	typeBigVarBin  byte = 0xA5
	typeBigVarChar byte = 0xA7
	typeBigBinary  byte = 0xAD
	typeBigChar    byte = 0xAF
	typeNVarChar   byte = 0xE7
	typeNChar      byte = 0xEF
	typeXML        byte = 0xF1
)

// ntextMaxBytes is NTEXT's declared maximum length in bytes (2^30 - 1 characters).
const ntextMaxBytes = 0x7FFFFFFE

// Column describes one result column.
//
// Values are converted from the usual Go types (any integer type for the
// integer columns, float32/float64, bool, string or []byte for strings,
// string/float/integer/*big.Rat for DECIMAL, time.Time for dates, [16]byte
// or a string for UNIQUEIDENTIFIER, and any driver.Valuer); nil is NULL.
// DATETIME, DATETIME2 and DATE carry the time.Time's wall clock without
// zone conversion (the driver returns it as UTC); DATETIMEOFFSET keeps the
// instant and the offset. A value that does not fit the column (too long,
// out of range) ends the result with error 50000 naming the column.
type Column struct {
	// Name is the column name (may be empty, as for "select 1").
	Name string
	// Type is the SQL type.
	Type ColumnType
	// Nullable sets the column's nullable flag. NULL values (nil) are
	// accepted in any column.
	Nullable bool
	// Size is the maximum length for NVARCHAR (characters) and VARBINARY
	// (bytes); 0 means the type's maximum (4000 / 8000).
	Size int
	// Precision and Scale apply to DECIMAL (Precision 0 means 18).
	Precision uint8
	Scale     uint8
}

// InferType maps a Go value to a column type: integers up to 32 bits to
// INT, int/int64/uint32/uint64 to BIGINT, floats to FLOAT, bool to BIT,
// string to NVARCHAR, []byte to VARBINARY(MAX), time.Time to DATETIME2 and
// [16]byte to UNIQUEIDENTIFIER. Anything else becomes NVARCHAR.
func InferType(v any) ColumnType {
	if vr, ok := v.(driver.Valuer); ok {
		if vv, err := vr.Value(); err == nil && vv != nil {
			v = vv
		}
	}
	switch v.(type) {
	case int8, int16, int32, uint8, uint16:
		return TypeInt
	case int, int64, uint, uint32, uint64:
		return TypeBigInt
	case float32, float64:
		return TypeFloat
	case bool:
		return TypeBit
	case []byte:
		return TypeVarBinaryMax
	case time.Time:
		return TypeDateTime2
	case [16]byte:
		return TypeUniqueIdentifier
	default:
		return TypeNVarChar
	}
}

func (c *Column) decimalPrecision() uint8 {
	if c.Precision == 0 {
		return 18
	}
	return c.Precision
}

// decimalMagnitudeLen is the magnitude size in bytes for a precision.
func decimalMagnitudeLen(p uint8) int {
	switch {
	case p <= 9:
		return 4
	case p <= 19:
		return 8
	case p <= 28:
		return 12
	default:
		return 16
	}
}

// validate checks the column definition.
func (c *Column) validate() error {
	switch c.Type {
	case TypeNVarChar:
		if c.Size < 0 || c.Size > maxNVarChar {
			return fmt.Errorf("tdssim: column %q: NVARCHAR size %d out of range 1..%d (use TypeNVarCharMax)", c.Name, c.Size, maxNVarChar)
		}
	case TypeVarBinary:
		if c.Size < 0 || c.Size > maxVarBinary {
			return fmt.Errorf("tdssim: column %q: VARBINARY size %d out of range 1..%d (use TypeVarBinaryMax)", c.Name, c.Size, maxVarBinary)
		}
	case TypeDecimal:
		p := c.decimalPrecision()
		if p > 38 || c.Scale > p {
			return fmt.Errorf("tdssim: column %q: invalid DECIMAL(%d,%d)", c.Name, p, c.Scale)
		}
	case TypeInt, TypeBigInt, TypeSmallInt, TypeTinyInt, TypeBit, TypeFloat, TypeReal,
		TypeDateTime, TypeDateTime2, TypeDate, TypeDateTimeOffset, TypeNVarCharMax,
		TypeVarBinaryMax, TypeUniqueIdentifier, TypeNText, colNText, colImage:
	default:
		return fmt.Errorf("tdssim: column %q: unknown column type %v", c.Name, c.Type)
	}
	return nil
}

func (c *Column) nvarcharChars() int {
	if c.Size == 0 {
		return maxNVarChar
	}
	return c.Size
}

func (c *Column) varbinaryBytes() int {
	if c.Size == 0 {
		return maxVarBinary
	}
	return c.Size
}

// appendTypeInfo appends the column's TYPE_INFO for version v.
func (c *Column) appendTypeInfo(b []byte, v TDSVersion) []byte {
	collation := func(b []byte) []byte {
		if v.atLeast(TDS71) {
			return append(b, collationLatin1...)
		}
		return b
	}
	switch c.Type {
	case TypeInt:
		return append(b, typeIntN, 4)
	case TypeBigInt:
		return append(b, typeIntN, 8)
	case TypeSmallInt:
		return append(b, typeIntN, 2)
	case TypeTinyInt:
		return append(b, typeIntN, 1)
	case TypeBit:
		return append(b, typeBitN, 1)
	case TypeFloat:
		return append(b, typeFltN, 8)
	case TypeReal:
		return append(b, typeFltN, 4)
	case TypeDecimal:
		p := c.decimalPrecision()
		return append(b, typeDecimalN, byte(1+decimalMagnitudeLen(p)), p, c.Scale)
	case TypeDateTime:
		return append(b, typeDateTimeN, 8)
	case TypeDateTime2:
		return append(b, typeDateTime2N, 7)
	case TypeDate:
		return append(b, typeDateN)
	case TypeDateTimeOffset:
		return append(b, typeDTOffsetN, 7)
	case TypeNVarChar:
		b = append(b, typeNVarChar)
		b = appendU16(b, uint16(2*c.nvarcharChars()))
		return collation(b)
	case TypeNVarCharMax:
		b = append(b, typeNVarChar, 0xFF, 0xFF)
		return collation(b)
	case colNText, colImage:
		// LONGLEN maximum, [COLLATION], then TableName: before TDS 7.2 a
		// single US_VARCHAR (NumParts came with 7.2); empty, as for a
		// computed column.
		if c.Type == colNText {
			b = appendU32(append(b, typeNText), ntextMaxBytes)
			b = collation(b)
		} else {
			b = appendU32(append(b, typeImage), 0x7FFFFFFF)
		}
		return appendU16(b, 0)
	case TypeVarBinary:
		b = append(b, typeBigVarBin)
		return appendU16(b, uint16(c.varbinaryBytes()))
	case TypeVarBinaryMax:
		return append(b, typeBigVarBin, 0xFF, 0xFF)
	case TypeUniqueIdentifier:
		return append(b, typeGUID, 16)
	case TypeNText:
		b = append(b, typeNText)
		b = appendU32(b, ntextMaxBytes)
		b = append(b, collationLatin1...)
		return append(b, 0) // no table name parts
	}
	return b
}

// Column kinds that exist only on the wire, for clients older than the type
// a Column names (see downlevelColumns).
const (
	// colNText is NTEXT: NVARCHAR(MAX) for TDS 7.0 and 7.1 clients.
	colNText ColumnType = 1000 + iota
	// colImage is IMAGE: VARBINARY(MAX) for TDS 7.0 and 7.1 clients.
	colImage
)

// Wire type ids of the legacy large types (MS-TDS 2.2.5.4.2).
const (
	typeImage byte = 0x22
	typeText  byte = 0x23
	typeNText byte = 0x63
)

// downlevelColumns returns the columns as a client of version v sees them,
// or nil when it sees them as they are (every TDS 7.3+ session):
//   - DATE, DATETIME2 and DATETIMEOFFSET (introduced in TDS 7.3) become
//     NVARCHAR columns holding their literal: "Client applications that were
//     compiled using a version of SQL Server Native Client prior to SQL
//     Server 2008 see the new date/time types as nvarchar columns. The column
//     contents are the literal representations ... The column size is the
//     maximum literal length" (Enhanced Date/Time Type Behavior with
//     Previous SQL Server Versions (ODBC), learn.microsoft.com bb677302);
//   - NVARCHAR(MAX) and VARBINARY(MAX), which are PLP types (introduced in
//     TDS 7.2), become NTEXT and IMAGE for TDS 7.0 and 7.1 clients, the
//     large types those versions have. MS-TDS does not say what a server
//     sends instead of a MAX type; NTEXT/IMAGE is the only type of those
//     versions that can hold the value.
func downlevelColumns(cols []Column, v TDSVersion) []Column {
	if v.atLeast(TDS73A) {
		return nil
	}
	var out []Column
	for i, c := range cols {
		w := c
		switch c.Type {
		case TypeDate:
			w.Type, w.Size = TypeNVarChar, len("2006-01-02")
		case TypeDateTime2:
			w.Type, w.Size = TypeNVarChar, len("2006-01-02 15:04:05.0000000")
		case TypeDateTimeOffset:
			w.Type, w.Size = TypeNVarChar, len("2006-01-02 15:04:05.0000000 +07:00")
		case TypeNVarCharMax, TypeNText:
			if v.atLeast(TDS72) {
				continue
			}
			w.Type = colNText
		case TypeVarBinaryMax:
			if v.atLeast(TDS72) {
				continue
			}
			w.Type = colImage
		default:
			continue
		}
		if out == nil {
			out = slices.Clone(cols)
		}
		out[i] = w
	}
	return out
}

// downlevelValue converts a value of column c to what its down-level wire
// column holds: a date/time value becomes its literal.
func downlevelValue(c *Column, v any) any {
	if vr, ok := v.(driver.Valuer); ok {
		if vv, err := vr.Value(); err == nil {
			v = vv
		}
	}
	t, ok := v.(time.Time)
	if !ok {
		return v
	}
	switch c.Type {
	case TypeDate:
		return t.Format("2006-01-02")
	case TypeDateTime2:
		return t.Format("2006-01-02 15:04:05.0000000")
	case TypeDateTimeOffset:
		return t.Format("2006-01-02 15:04:05.0000000 -07:00")
	}
	return v
}

// appendColMetadata appends a COLMETADATA token in the layout of version v:
// UserType is a USHORT before TDS 7.2 and a ULONG from 7.2 on; TDS 7.0 has
// no collations (SQL Server 2000, TDS 7.1, introduced them), so its string
// columns carry none (MS-TDS does not mark COLLATION with a version; FreeTDS
// reads one only from 7.1 on).
func appendColMetadata(b []byte, cols []Column, v TDSVersion) ([]byte, error) {
	if len(cols) == 0 || len(cols) > 4096 {
		return b, fmt.Errorf("tdssim: a result set needs 1..4096 columns, got %d", len(cols))
	}
	for i := range cols {
		if err := cols[i].validate(); err != nil {
			return b, err
		}
	}
	b = append(b, byte(tokColMetadata))
	b = appendU16(b, uint16(len(cols)))
	for i := range cols {
		c := &cols[i]
		if v.atLeast(TDS72) {
			b = appendU32(b, 0) // UserType
		} else {
			b = appendU16(b, 0)
		}
		var flags uint16
		if c.Nullable {
			flags |= 0x0001
		}
		b = appendU16(b, flags)
		b = c.appendTypeInfo(b, v)
		b = appendBVarChar(b, c.Name)
	}
	return b, nil
}

// appendRow appends a ROW token. On error b is returned unchanged.
func appendRow(b []byte, cols []Column, row Row) ([]byte, error) {
	if len(row) != len(cols) {
		return b, fmt.Errorf("tdssim: row has %d values for %d columns", len(row), len(cols))
	}
	start := len(b)
	b = append(b, byte(tokRow))
	for i := range cols {
		var err error
		b, err = appendValue(b, &cols[i], row[i])
		if err != nil {
			return b[:start], fmt.Errorf("tdssim: column %q (%v): %w", cols[i].Name, cols[i].Type, err)
		}
	}
	return b, nil
}

// appendValue appends one column value in ROW format.
func appendValue(b []byte, c *Column, v any) ([]byte, error) {
	if vr, ok := v.(driver.Valuer); ok {
		vv, err := vr.Value()
		if err != nil {
			return b, fmt.Errorf("driver.Valuer: %w", err)
		}
		v = vv
	}
	if v == nil {
		return appendNull(b, c), nil
	}
	switch c.Type {
	case TypeInt, TypeBigInt, TypeSmallInt, TypeTinyInt:
		n, err := toInt64(v)
		if err != nil {
			return b, err
		}
		switch c.Type {
		case TypeInt:
			if n < math.MinInt32 || n > math.MaxInt32 {
				return b, fmt.Errorf("value %d overflows INT", n)
			}
			return appendU32(append(b, 4), uint32(int32(n))), nil
		case TypeSmallInt:
			if n < math.MinInt16 || n > math.MaxInt16 {
				return b, fmt.Errorf("value %d overflows SMALLINT", n)
			}
			return appendU16(append(b, 2), uint16(int16(n))), nil
		case TypeTinyInt:
			if n < 0 || n > 255 {
				return b, fmt.Errorf("value %d overflows TINYINT", n)
			}
			return append(b, 1, byte(n)), nil
		default:
			return appendU64(append(b, 8), uint64(n)), nil
		}
	case TypeBit:
		switch x := v.(type) {
		case bool:
			if x {
				return append(b, 1, 1), nil
			}
			return append(b, 1, 0), nil
		default:
			n, err := toInt64(v)
			if err != nil {
				return b, err
			}
			if n != 0 {
				return append(b, 1, 1), nil
			}
			return append(b, 1, 0), nil
		}
	case TypeFloat, TypeReal:
		f, err := toFloat64(v)
		if err != nil {
			return b, err
		}
		if c.Type == TypeReal {
			return appendU32(append(b, 4), math.Float32bits(float32(f))), nil
		}
		return appendU64(append(b, 8), math.Float64bits(f)), nil
	case TypeDecimal:
		return appendDecimal(b, c, v)
	case TypeDateTime, TypeDateTime2, TypeDate, TypeDateTimeOffset:
		t, ok := v.(time.Time)
		if !ok {
			return b, fmt.Errorf("want time.Time, got %T", v)
		}
		return appendTime(b, c.Type, t)
	case TypeNVarChar, TypeNVarCharMax, TypeNText, colNText:
		s, err := toString(v)
		if err != nil {
			return b, err
		}
		switch c.Type {
		case TypeNVarCharMax:
			return appendPLP(b, ucs2Bytes(s)), nil
		case TypeNText, colNText:
			return appendText(b, ucs2Bytes(s)), nil
		}
		units := ucs2Len(s)
		if units > c.nvarcharChars() {
			return b, fmt.Errorf("string of %d characters exceeds NVARCHAR(%d)", units, c.nvarcharChars())
		}
		b = appendU16(b, uint16(2*units))
		b, _ = appendUCS2(b, s, -1)
		return b, nil
	case TypeVarBinary, TypeVarBinaryMax, colImage:
		var raw []byte
		switch x := v.(type) {
		case []byte:
			raw = x
		case string:
			raw = []byte(x)
		default:
			return b, fmt.Errorf("want []byte, got %T", v)
		}
		switch c.Type {
		case TypeVarBinaryMax:
			return appendPLP(b, raw), nil
		case colImage:
			return appendText(b, raw), nil
		}
		if len(raw) > c.varbinaryBytes() {
			return b, fmt.Errorf("%d bytes exceed VARBINARY(%d)", len(raw), c.varbinaryBytes())
		}
		b = appendU16(b, uint16(len(raw)))
		return append(b, raw...), nil
	case TypeUniqueIdentifier:
		g, err := toGUID(v)
		if err != nil {
			return b, err
		}
		b = append(b, 16)
		return append(b, guidToWire(g)...), nil
	}
	return b, fmt.Errorf("unknown column type %v", c.Type)
}

func appendNull(b []byte, c *Column) []byte {
	switch c.Type {
	case TypeNText, colNText, colImage:
		return append(b, 0) // no TextPointer: the NULL instance (MS-TDS 2.2.7.20)
	case TypeNVarChar, TypeVarBinary:
		return append(b, 0xFF, 0xFF)
	case TypeNVarCharMax, TypeVarBinaryMax:
		return appendU64(b, plpNull)
	default:
		return append(b, 0)
	}
}

// appendText appends a TEXT/NTEXT/IMAGE value (MS-TDS 2.2.7.20):
// TextPointer (B_VARBYTE, 16 bytes), an 8-byte Timestamp, then the data with
// a LONGLEN length. The pointer and timestamp mean nothing here: this
// server has no UPDATETEXT to use them.
func appendText(b []byte, data []byte) []byte {
	b = append(b, 16)
	b = append(b, make([]byte, 16+8)...)
	b = appendU32(b, uint32(len(data)))
	return append(b, data...)
}

// appendPLP appends a PLP value with a known length: u64 total, chunks,
// then a zero-length terminator chunk.
func appendPLP(b []byte, data []byte) []byte {
	b = appendU64(b, uint64(len(data)))
	for len(data) > 0 {
		n := min(len(data), plpChunk)
		b = appendU32(b, uint32(n))
		b = append(b, data[:n]...)
		data = data[n:]
	}
	return appendU32(b, 0)
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, fmt.Errorf("value %d overflows int64", x)
		}
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("value %d overflows int64", x)
		}
		return int64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("want an integer, got %T", v)
}

func toFloat64(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	}
	n, err := toInt64(v)
	if err != nil {
		return 0, fmt.Errorf("want a float, got %T", v)
	}
	return float64(n), nil
}

func toString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case fmt.Stringer:
		return x.String(), nil
	}
	return "", fmt.Errorf("want a string, got %T", v)
}

// appendDecimal encodes DECIMALN: length, sign (1 = positive), magnitude LE.
func appendDecimal(b []byte, c *Column, v any) ([]byte, error) {
	r := new(big.Rat)
	switch x := v.(type) {
	case string:
		if _, ok := r.SetString(strings.TrimSpace(x)); !ok {
			return b, fmt.Errorf("invalid decimal %q", x)
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return b, fmt.Errorf("invalid decimal %v", x)
		}
		r.SetFloat64(x)
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return b, fmt.Errorf("invalid decimal %v", x)
		}
		r.SetFloat64(float64(x))
	case *big.Rat:
		r.Set(x)
	case *big.Int:
		r.SetInt(x)
	default:
		n, err := toInt64(v)
		if err != nil {
			return b, fmt.Errorf("want a decimal (string, float, integer, *big.Rat), got %T", v)
		}
		r.SetInt64(n)
	}
	p := c.decimalPrecision()
	scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.Scale)), nil)))
	// Round half away from zero.
	num, den := scaled.Num(), scaled.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	sign := byte(1)
	if q.Sign() < 0 {
		sign = 0
		q.Neg(q)
	}
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil)
	if q.Cmp(limit) >= 0 {
		return b, fmt.Errorf("value %s does not fit DECIMAL(%d,%d)", r.FloatString(int(c.Scale)), p, c.Scale)
	}
	n := decimalMagnitudeLen(p)
	mag := make([]byte, n)
	q.FillBytes(mag) // big-endian
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		mag[i], mag[j] = mag[j], mag[i]
	}
	b = append(b, byte(1+n), sign)
	return append(b, mag...), nil
}

// gregorianDays returns days since 0001-01-01 (proleptic Gregorian). Day
// counts are computed from calendar fields, never from time.Duration,
// which overflows after about 292 years.
func gregorianDays(year, yearDay int) int {
	y := year - 1
	return y*365 + y/4 - y/100 + y/400 + yearDay - 1
}

var errTimeRange = errors.New("time out of range")

func appendTime(b []byte, typ ColumnType, t time.Time) ([]byte, error) {
	switch typ {
	case TypeDateTime:
		days := gregorianDays(t.Year(), t.YearDay()) - gregorianDays(1900, 1)
		secs := t.Hour()*3600 + t.Minute()*60 + t.Second()
		ticks := secs*300 + (t.Nanosecond()*3+5_000_000)/10_000_000
		if ticks >= 300*86400 {
			days++
			ticks -= 300 * 86400
		}
		if days < gregorianDays(1753, 1)-gregorianDays(1900, 1) || days > gregorianDays(9999, 365)-gregorianDays(1900, 1) {
			return b, fmt.Errorf("%w: DATETIME covers 1753-01-01..9999-12-31, got %v", errTimeRange, t)
		}
		b = append(b, 8)
		b = appendU32(b, uint32(int32(days)))
		return appendU32(b, uint32(ticks)), nil
	case TypeDate:
		if t.Year() < 1 || t.Year() > 9999 {
			return b, fmt.Errorf("%w: DATE covers years 1..9999, got %v", errTimeRange, t)
		}
		days := gregorianDays(t.Year(), t.YearDay())
		return append(b, 3, byte(days), byte(days>>8), byte(days>>16)), nil
	case TypeDateTime2:
		if t.Year() < 1 || t.Year() > 9999 {
			return b, fmt.Errorf("%w: DATETIME2 covers years 1..9999, got %v", errTimeRange, t)
		}
		b = append(b, 8)
		b = appendTime7(b, t)
		days := gregorianDays(t.Year(), t.YearDay())
		return append(b, byte(days), byte(days>>8), byte(days>>16)), nil
	case TypeDateTimeOffset:
		_, off := t.Zone()
		u := t.UTC()
		if u.Year() < 1 || u.Year() > 9999 {
			return b, fmt.Errorf("%w: DATETIMEOFFSET covers years 1..9999 (UTC), got %v", errTimeRange, t)
		}
		b = append(b, 10)
		b = appendTime7(b, u)
		days := gregorianDays(u.Year(), u.YearDay())
		b = append(b, byte(days), byte(days>>8), byte(days>>16))
		return appendU16(b, uint16(int16(off/60))), nil
	}
	return b, fmt.Errorf("not a time column: %v", typ)
}

// appendTime7 appends the 5-byte count of 100 ns units since midnight.
func appendTime7(b []byte, t time.Time) []byte {
	secs := int64(t.Hour()*3600 + t.Minute()*60 + t.Second())
	v := uint64(secs*10_000_000 + int64(t.Nanosecond()/100))
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32))
}

// toGUID accepts [16]byte and []byte in RFC 4122 byte order, or a string.
func toGUID(v any) ([16]byte, error) {
	var g [16]byte
	switch x := v.(type) {
	case [16]byte:
		return x, nil
	case []byte:
		if len(x) != 16 {
			return g, fmt.Errorf("GUID needs 16 bytes, got %d", len(x))
		}
		copy(g[:], x)
		return g, nil
	case string:
		return parseGUID(x)
	case fmt.Stringer:
		return parseGUID(x.String())
	}
	return g, fmt.Errorf("want a GUID ([16]byte or string), got %T", v)
}

func parseGUID(s string) ([16]byte, error) {
	var g [16]byte
	h := strings.NewReplacer("-", "", "{", "", "}", "").Replace(s)
	if len(h) != 32 {
		return g, fmt.Errorf("invalid GUID %q", s)
	}
	if _, err := hex.Decode(g[:], []byte(h)); err != nil {
		return g, fmt.Errorf("invalid GUID %q: %w", s, err)
	}
	return g, nil
}

// guidToWire converts RFC 4122 order to SQL Server's mixed-endian layout
// (the first three groups little-endian). The conversion is its own inverse.
func guidToWire(g [16]byte) []byte {
	w := g
	w[0], w[1], w[2], w[3] = g[3], g[2], g[1], g[0]
	w[4], w[5] = g[5], g[4]
	w[6], w[7] = g[7], g[6]
	return w[:]
}

func formatGUID(g [16]byte) string {
	s := hex.EncodeToString(g[:])
	return strings.ToUpper(s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32])
}

// ---- parameter decoding (RPC) ----

// decodeParamValue decodes TYPE_INFO followed by a value, as version v
// sends them: string types carry a COLLATION from TDS 7.1 on.
func decodeParamValue(r *byteReader, v TDSVersion) (any, error) {
	typ := r.u8()
	if r.err != nil {
		return nil, r.err
	}
	switch typ {
	case typeNull:
		return nil, nil
	case typeInt1, typeBit, typeInt2, typeInt4, typeInt8, typeFlt4, typeFlt8,
		typeDateTime, typeDateTim4, typeMoney, typeMoney4:
		size := map[byte]int{typeInt1: 1, typeBit: 1, typeInt2: 2, typeInt4: 4, typeInt8: 8,
			typeFlt4: 4, typeFlt8: 8, typeDateTime: 8, typeDateTim4: 4, typeMoney: 8, typeMoney4: 4}[typ]
		buf := r.bytes(size)
		if r.err != nil {
			return nil, r.err
		}
		return decodeFixed(typ, buf)
	case typeIntN, typeBitN, typeFltN, typeDateTimeN, typeMoneyN, typeGUID,
		typeChar, typeVarChar, typeBinary, typeVarBinary:
		_ = r.u8() // max length
		n := int(r.u8())
		if r.err != nil {
			return nil, r.err
		}
		if n == 0 && typ != typeChar && typ != typeVarChar && typ != typeBinary && typ != typeVarBinary {
			return nil, nil
		}
		buf := r.bytes(n)
		if r.err != nil {
			return nil, r.err
		}
		switch typ {
		case typeIntN:
			return decodeFixed(map[int]byte{1: typeInt1, 2: typeInt2, 4: typeInt4, 8: typeInt8}[n], buf)
		case typeBitN:
			return decodeFixed(typeBit, buf)
		case typeFltN:
			return decodeFixed(map[int]byte{4: typeFlt4, 8: typeFlt8}[n], buf)
		case typeDateTimeN:
			return decodeFixed(map[int]byte{4: typeDateTim4, 8: typeDateTime}[n], buf)
		case typeMoneyN:
			return decodeFixed(map[int]byte{4: typeMoney4, 8: typeMoney}[n], buf)
		case typeGUID:
			if n != 16 {
				return nil, fmt.Errorf("tdssim: GUID parameter of %d bytes", n)
			}
			var g [16]byte
			copy(g[:], guidToWire([16]byte(buf)))
			return formatGUID(g), nil
		case typeChar, typeVarChar:
			return string(buf), nil
		default:
			return append([]byte{}, buf...), nil
		}
	case typeDecimalN, typeNumericN, typeDecimal, typeNumeric:
		_ = r.u8() // max length
		_ = r.u8() // precision
		scale := r.u8()
		n := int(r.u8())
		if r.err != nil {
			return nil, r.err
		}
		if n == 0 {
			return nil, nil
		}
		buf := r.bytes(n)
		if r.err != nil {
			return nil, r.err
		}
		return decodeDecimal(buf, scale)
	case typeDateN:
		n := int(r.u8())
		if n == 0 {
			return nil, r.err
		}
		buf := r.bytes(n)
		if r.err != nil {
			return nil, r.err
		}
		if n != 3 {
			return nil, fmt.Errorf("tdssim: DATE parameter of %d bytes", n)
		}
		return dateFromDays(int(buf[0]) | int(buf[1])<<8 | int(buf[2])<<16), nil
	case typeTimeN, typeDateTime2N, typeDTOffsetN:
		scale := r.u8()
		n := int(r.u8())
		if r.err != nil {
			return nil, r.err
		}
		if scale > 7 {
			return nil, fmt.Errorf("tdssim: invalid time scale %d", scale)
		}
		if n == 0 {
			return nil, nil
		}
		buf := r.bytes(n)
		if r.err != nil {
			return nil, r.err
		}
		return decodeTimeValue(typ, scale, buf)
	case typeText, typeNText, typeImage:
		// LONGLEN maximum, [COLLATION], then the value: a LONGLEN length
		// (the 4-byte CHARBIN_NULL, all ones, for NULL) and the bytes.
		_ = r.u32()
		if typ != typeImage && v.atLeast(TDS71) {
			_ = r.bytes(5)
		}
		n := r.u32()
		if r.err != nil {
			return nil, r.err
		}
		if n == 0xFFFFFFFF {
			return nil, nil
		}
		raw := r.bytes(int(min(n, math.MaxInt32)))
		if r.err != nil {
			return nil, r.err
		}
		switch typ {
		case typeNText:
			return decodeUCS2(raw)
		case typeText:
			return string(raw), nil
		}
		return append([]byte{}, raw...), nil
	case typeBigVarBin, typeBigBinary, typeBigVarChar, typeBigChar, typeNVarChar, typeNChar:
		maxLen := r.u16()
		if (typ == typeBigVarChar || typ == typeBigChar || typ == typeNVarChar || typ == typeNChar) && v.atLeast(TDS71) {
			_ = r.bytes(5) // collation
		}
		if r.err != nil {
			return nil, r.err
		}
		var raw []byte
		var isNull bool
		if maxLen == 0xFFFF && v.atLeast(TDS72) { // PLP came with TDS 7.2
			var err error
			raw, isNull, err = readPLP(r)
			if err != nil {
				return nil, err
			}
		} else {
			n := r.u16()
			if n == 0xFFFF {
				isNull = true
			} else {
				raw = r.bytes(int(n))
			}
			if r.err != nil {
				return nil, r.err
			}
		}
		if isNull {
			return nil, nil
		}
		switch typ {
		case typeNVarChar, typeNChar:
			return decodeUCS2(raw)
		case typeBigVarChar, typeBigChar:
			return string(raw), nil
		default:
			return append([]byte{}, raw...), nil
		}
	case typeXML:
		if schema := r.u8(); schema != 0 {
			_ = r.bVarChar()
			_ = r.bVarChar()
			_ = r.usVarChar()
		}
		if r.err != nil {
			return nil, r.err
		}
		raw, isNull, err := readPLP(r)
		if err != nil || isNull {
			return nil, err
		}
		return decodeUCS2(raw)
	}
	return nil, fmt.Errorf("tdssim: unsupported parameter type 0x%02X", typ)
}

// readPLP reads a PLP value: u64 length (or NULL / unknown), then u32-sized
// chunks up to a zero terminator.
func readPLP(r *byteReader) ([]byte, bool, error) {
	total := r.u64()
	if r.err != nil {
		return nil, false, r.err
	}
	if total == plpNull {
		return nil, true, nil
	}
	if total != plpUnknownLen && total > uint64(r.remaining()) {
		return nil, false, fmt.Errorf("%w: PLP length %d exceeds message", errShort, total)
	}
	out := []byte{}
	for {
		n := r.u32()
		if r.err != nil {
			return nil, false, r.err
		}
		if n == 0 {
			break
		}
		chunk := r.bytes(int(min(n, math.MaxInt32)))
		if r.err != nil {
			return nil, false, r.err
		}
		out = append(out, chunk...)
	}
	if total != plpUnknownLen && uint64(len(out)) != total {
		return nil, false, fmt.Errorf("tdssim: PLP length %d but chunks carry %d bytes", total, len(out))
	}
	return out, false, nil
}

func decodeFixed(typ byte, buf []byte) (any, error) {
	switch typ {
	case typeInt1:
		if len(buf) == 1 {
			return int64(buf[0]), nil // TINYINT is unsigned, as the driver decodes it
		}
	case typeBit:
		if len(buf) == 1 {
			return buf[0] != 0, nil
		}
	case typeInt2:
		if len(buf) == 2 {
			return int64(int16(binary.LittleEndian.Uint16(buf))), nil
		}
	case typeInt4:
		if len(buf) == 4 {
			return int64(int32(binary.LittleEndian.Uint32(buf))), nil
		}
	case typeInt8:
		if len(buf) == 8 {
			return int64(binary.LittleEndian.Uint64(buf)), nil
		}
	case typeFlt4:
		if len(buf) == 4 {
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(buf))), nil
		}
	case typeFlt8:
		if len(buf) == 8 {
			return math.Float64frombits(binary.LittleEndian.Uint64(buf)), nil
		}
	case typeDateTime:
		if len(buf) == 8 {
			days := int(int32(binary.LittleEndian.Uint32(buf)))
			ticks := int(binary.LittleEndian.Uint32(buf[4:]))
			// 1/300 s ticks; milliseconds rounded as the driver does.
			ms := int(math.Round(float64(ticks%300) / 0.3))
			return time.Date(1900, 1, 1+days, 0, 0, ticks/300, ms*int(time.Millisecond), time.UTC), nil
		}
	case typeDateTim4:
		if len(buf) == 4 {
			days := int(binary.LittleEndian.Uint16(buf))
			mins := int(binary.LittleEndian.Uint16(buf[2:]))
			return time.Date(1900, 1, 1+days, 0, mins, 0, 0, time.UTC), nil
		}
	case typeMoney:
		if len(buf) == 8 {
			v := int64(uint64(binary.LittleEndian.Uint32(buf))<<32 | uint64(binary.LittleEndian.Uint32(buf[4:])))
			return formatScaled(big.NewInt(v), 4), nil
		}
	case typeMoney4:
		if len(buf) == 4 {
			return formatScaled(big.NewInt(int64(int32(binary.LittleEndian.Uint32(buf)))), 4), nil
		}
	}
	return nil, fmt.Errorf("tdssim: bad value length %d for type 0x%02X", len(buf), typ)
}

func decodeDecimal(buf []byte, scale uint8) (string, error) {
	if len(buf) < 2 || len(buf) > 17 {
		return "", fmt.Errorf("tdssim: bad DECIMAL length %d", len(buf))
	}
	mag := make([]byte, len(buf)-1)
	for i := range mag {
		mag[i] = buf[len(buf)-1-i] // little-endian -> big-endian
	}
	v := new(big.Int).SetBytes(mag)
	if buf[0] == 0 {
		v.Neg(v)
	}
	return formatScaled(v, int(scale)), nil
}

// formatScaled renders v / 10^scale as a decimal string.
func formatScaled(v *big.Int, scale int) string {
	neg := v.Sign() < 0
	s := new(big.Int).Abs(v).String()
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func dateFromDays(days int) time.Time {
	return time.Date(1, 1, 1+days, 0, 0, 0, 0, time.UTC)
}

// decodeTimeValue decodes TIMEN, DATETIME2N and DATETIMEOFFSETN values.
func decodeTimeValue(typ byte, scale uint8, buf []byte) (time.Time, error) {
	timeLen := 5
	switch {
	case scale <= 2:
		timeLen = 3
	case scale <= 4:
		timeLen = 4
	}
	want := timeLen
	switch typ {
	case typeDateTime2N:
		want += 3
	case typeDTOffsetN:
		want += 5
	}
	if len(buf) != want {
		return time.Time{}, fmt.Errorf("tdssim: time value of %d bytes, want %d", len(buf), want)
	}
	var units uint64
	for i := timeLen - 1; i >= 0; i-- {
		units = units<<8 | uint64(buf[i])
	}
	for range 7 - int(scale) {
		units *= 10
	}
	if units >= 864_000_000_000 {
		return time.Time{}, fmt.Errorf("tdssim: time of day out of range")
	}
	tod := time.Duration(units * 100)
	if typ == typeTimeN {
		return time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Add(tod), nil
	}
	d := buf[timeLen:]
	days := int(d[0]) | int(d[1])<<8 | int(d[2])<<16
	t := dateFromDays(days).Add(tod)
	if typ == typeDTOffsetN {
		off := int(int16(binary.LittleEndian.Uint16(d[3:])))
		return t.In(time.FixedZone("", off*60)), nil
	}
	return t, nil
}
