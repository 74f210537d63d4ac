// Conversions the evaluator makes: implicit ones when values of different types meet in a
// comparison, LIKE or +, and explicit ones (CAST, CONVERT).

package tsql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ValueError is a run-time error SQL Server reports with a number of its own: a conversion that
// fails, an overflow, a division by zero (sql-docs
// docs/relational-databases/errors-events/database-engine-events-and-errors-0-to-999.md and
// …-8000-to-8999.md). Its severity is 16.
type ValueError struct {
	Number  int32
	Message string
}

func (e *ValueError) Error() string { return fmt.Sprintf("tsql: error %d: %s", e.Number, e.Message) }

// conversionFailed is error 245 for a character string that is no number of the type.
func conversionFailed(s, to string) *ValueError {
	return &ValueError{Number: 245, Message: fmt.Sprintf("Conversion failed when converting the nvarchar value '%s' to data type %s.", s, to)}
}

// dateConversionFailed is error 241.
func dateConversionFailed() *ValueError {
	return &ValueError{Number: 241, Message: "Conversion failed when converting date and/or time from character string."}
}

// overflow is error 8115.
func overflow(to string) *ValueError {
	return &ValueError{Number: 8115, Message: fmt.Sprintf("Arithmetic overflow error converting expression to data type %s.", to)}
}

// typeName is the SQL type a Go value of the evaluator stands for.
func typeName(v any) string {
	switch v.(type) {
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bit"
	case time.Time:
		return "datetime"
	}
	return "nvarchar"
}

// toInt converts a string to a number as SQL Server converts a character string to int: digits
// with an optional sign, surrounding spaces ignored.
func toInt(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, conversionFailed(s, "int")
	}
	return n, nil
}

func toFloatString(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, &ValueError{Number: 8114, Message: "Error converting data type nvarchar to float."}
	}
	return f, nil
}

// dateLayouts are the character forms of a date and time the evaluator reads: the ISO 8601 and
// ODBC forms SQL Server reads whatever the language and DATEFORMAT (sql-docs
// docs/t-sql/data-types/datetime-transact-sql.md, "Supported string literal formats"), and the
// unseparated form.
var dateLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04",
	"2006-01-02 15:04", "2006-01-02", "20060102 15:04:05.999999999", "20060102 15:04", "20060102"}

func toTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, dateConversionFailed()
}

// unify converts a pair of values to one type before they are compared, by data type precedence
// (sql-docs docs/t-sql/data-types/data-type-precedence-transact-sql.md): a date and time outranks
// the numbers, which outrank the character strings; a character string converts to the other
// side's type or the comparison fails with SQL Server's conversion error.
func unify(l, r any) (any, any, error) {
	ls, lok := l.(string)
	rs, rok := r.(string)
	switch {
	case lok && rok:
		return l, r, nil
	case lok:
		x, err := fromString(ls, r)
		return x, r, err
	case rok:
		y, err := fromString(rs, l)
		return l, y, err
	}
	return l, r, nil
}

// fromString converts s to the type of like.
func fromString(s string, like any) (any, error) {
	switch like.(type) {
	case int64, bool:
		return toInt(s)
	case float64:
		return toFloatString(s)
	case time.Time:
		return toTime(s)
	}
	return s, nil
}

// Text is a value as SQL Server converts it to a character string: numbers in decimal, bit as
// 1 or 0, a date and time as yyyy-mm-dd hh:mi:ss.mmm (CONVERT style 121, the ODBC canonical form).
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		if x {
			return "1"
		}
		return "0"
	case time.Time:
		return x.Format("2006-01-02 15:04:05.000")
	}
	return fmt.Sprint(v)
}

// castTo converts a value to the type CAST or CONVERT names. Only the types a query over the
// simulated world needs are converted: the integers, bit, float, real, decimal, numeric and money
// (as float64), the character types and the date and time types; others are ErrUnsupported.
func castTo(v any, t *DataType) (any, error) {
	if v == nil {
		return nil, nil
	}
	name := strings.ToLower(t.Name)
	switch name {
	case "int", "bigint", "smallint", "tinyint":
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case float64:
			if math.IsNaN(x) || math.Abs(x) >= 1<<63 {
				return nil, overflow(name)
			}
			n = int64(x) // truncates toward zero, as SQL Server does
		case bool:
			n = boolInt(x)
		case string:
			var err error
			if n, err = toInt(x); err != nil {
				return nil, conversionFailed(x, name)
			}
		default:
			return nil, fmt.Errorf("%w: CAST of %T to %s", ErrUnsupported, v, name)
		}
		lo, hi := int64(math.MinInt32), int64(math.MaxInt32)
		switch name {
		case "bigint":
			lo, hi = math.MinInt64, math.MaxInt64
		case "smallint":
			lo, hi = math.MinInt16, math.MaxInt16
		case "tinyint":
			lo, hi = 0, math.MaxUint8
		}
		if n < lo || n > hi {
			return nil, overflow(name)
		}
		return n, nil
	case "bit":
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case float64:
			return x != 0, nil
		case string:
			switch strings.ToUpper(strings.TrimSpace(x)) {
			case "TRUE":
				return true, nil
			case "FALSE":
				return false, nil
			}
			n, err := toInt(x)
			if err != nil {
				return nil, conversionFailed(x, "bit")
			}
			return n != 0, nil
		}
	case "float", "real", "decimal", "numeric", "money", "smallmoney":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		case bool:
			return float64(boolInt(x)), nil
		case string:
			return toFloatString(x)
		}
	case "varchar", "nvarchar", "char", "nchar", "sysname", "text", "ntext":
		s := Text(v)
		if len(t.Args) == 1 && t.Args[0] != "max" {
			if n, err := strconv.Atoi(t.Args[0]); err == nil && n >= 0 && len([]rune(s)) > n {
				s = string([]rune(s)[:n]) // CAST truncates a character string to the length named
			}
		}
		return s, nil
	case "datetime", "datetime2", "smalldatetime", "date", "datetimeoffset":
		var tm time.Time
		switch x := v.(type) {
		case time.Time:
			tm = x
		case string:
			var err error
			if tm, err = toTime(x); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: CAST of %T to %s", ErrUnsupported, v, name)
		}
		if name == "date" {
			tm = time.Date(tm.Year(), tm.Month(), tm.Day(), 0, 0, 0, 0, tm.Location())
		}
		return tm, nil
	}
	return nil, fmt.Errorf("%w: CAST to %s", ErrUnsupported, t)
}

// Convert converts a value to a type as CAST does (see castTo for the types it knows).
func Convert(v any, t *DataType) (any, error) { return castTo(v, t) }

// Compare orders two non-NULL values as SQL Server's comparison operators do (character strings
// case-insensitively, trailing spaces ignored, a string converted to the other side's type): -1,
// 0 or 1.
func Compare(l, r any) (int, error) { return compare(l, r) }

// typeClash is error 206, values of types that do not convert to each other.
func typeClash(l, r any) *ValueError {
	return &ValueError{Number: 206, Message: fmt.Sprintf("Operand type clash: %s is incompatible with %s", typeName(l), typeName(r))}
}
