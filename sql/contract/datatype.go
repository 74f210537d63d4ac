// SQL Server data types as the documents write them: parsing and matching a served type.

package contract

import (
	"fmt"
	"strconv"
	"strings"
)

// Type is a SQL Server data type: a lower-case name with length (characters for the n-types, -1
// for max, 0 when not given) or precision and scale.
type Type struct {
	Name      string
	Length    int
	Precision int
	Scale     int
}

// IsZero reports a type the document does not give.
func (t Type) IsZero() bool { return t.Name == "" }

// String is the type as T-SQL writes it.
func (t Type) String() string {
	switch {
	case t.Name == "":
		return "(undocumented)"
	case t.Length == -1:
		return t.Name + "(max)"
	case t.Length > 0:
		return t.Name + "(" + strconv.Itoa(t.Length) + ")"
	case t.Precision > 0:
		return fmt.Sprintf("%s(%d,%d)", t.Name, t.Precision, t.Scale)
	}
	return t.Name
}

// lengthTypes take a length; precisionTypes a precision and scale.
var (
	lengthTypes    = map[string]bool{"nvarchar": true, "varchar": true, "nchar": true, "char": true, "varbinary": true, "binary": true}
	precisionTypes = map[string]bool{"decimal": true, "numeric": true}
	knownTypes     = map[string]bool{"bit": true, "tinyint": true, "smallint": true, "int": true, "bigint": true, "float": true,
		"real": true, "money": true, "smallmoney": true, "datetime": true, "datetime2": true, "smalldatetime": true, "date": true,
		"time": true, "datetimeoffset": true, "uniqueidentifier": true, "ntext": true, "text": true, "image": true,
		"sql_variant": true, "timestamp": true, "rowversion": true, "xml": true, "sysname": true}
)

// ParseType reads a documented type: int, nvarchar(128), nvarchar(max), sysname (nvarchar(128)),
// numeric(25,0), float(53) (float), datetimeoffset(7), "tinyint not null". "" is the zero Type.
func ParseType(s string) (Type, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	s = strings.TrimSuffix(s, " not null")
	if s == "" {
		return Type{}, nil
	}
	name, args, hasArgs := strings.Cut(s, "(")
	name = strings.TrimSpace(name)
	if hasArgs {
		if !strings.HasSuffix(args, ")") {
			return Type{}, fmt.Errorf("type %q: unbalanced parenthesis", s)
		}
		args = strings.TrimSuffix(args, ")")
	}
	t := Type{Name: name}
	switch {
	case name == "sysname":
		if hasArgs {
			return Type{}, fmt.Errorf("type %q: sysname takes no length", s)
		}
		return Type{Name: "nvarchar", Length: 128}, nil
	case lengthTypes[name]:
		if !hasArgs {
			return t, nil
		}
		if args == "max" {
			t.Length = -1
			return t, nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(args))
		if err != nil || n <= 0 {
			return Type{}, fmt.Errorf("type %q: bad length", s)
		}
		t.Length = n
	case precisionTypes[name]:
		if hasArgs {
			p, sc, _ := strings.Cut(args, ",")
			pn, err1 := strconv.Atoi(strings.TrimSpace(p))
			sn := 0
			var err2 error
			if sc != "" {
				sn, err2 = strconv.Atoi(strings.TrimSpace(sc))
			}
			if err1 != nil || err2 != nil || pn < 1 || pn > 38 || sn < 0 || sn > pn {
				return Type{}, fmt.Errorf("type %q: bad precision or scale", s)
			}
			t.Precision, t.Scale = pn, sn
		}
	case name == "float":
		// float(n): 1..24 is real, 25..53 float (the documents write float(53)).
		if hasArgs {
			n, err := strconv.Atoi(strings.TrimSpace(args))
			if err != nil || n < 1 || n > 53 {
				return Type{}, fmt.Errorf("type %q: bad float precision", s)
			}
			if n <= 24 {
				t.Name = "real"
			}
		}
	case name == "datetimeoffset" || name == "datetime2" || name == "time":
		if hasArgs {
			n, err := strconv.Atoi(strings.TrimSpace(args))
			if err != nil || n < 0 || n > 7 {
				return Type{}, fmt.Errorf("type %q: bad fractional precision", s)
			}
		}
	case knownTypes[name]:
		if hasArgs {
			return Type{}, fmt.Errorf("type %q: %s takes no arguments", s, name)
		}
	default:
		return Type{}, fmt.Errorf("unknown type %q", s)
	}
	return t, nil
}

// Matches reports whether a served type is the documented one: same name, and the same length
// when the document gives a length.
func (t Type) Matches(served Type) bool {
	if t.IsZero() {
		return true
	}
	// decimal and numeric are synonyms (sql-docs t-sql/data-types/decimal-and-numeric-transact-sql.md:
	// "numeric is functionally identical to decimal"); drivers report both as DECIMAL.
	if t.Name != served.Name && !(isDecimal(t.Name) && isDecimal(served.Name)) {
		return false
	}
	return t.Length == 0 || t.Length == served.Length
}

func isDecimal(name string) bool { return name == "decimal" || name == "numeric" }
