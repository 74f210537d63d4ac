package sim

import (
	"fmt"
	"strings"

	"cutover/sql/contract"
	"cutover/sql/tdssim"
	"cutover/sql/tsql"
)

// unrouted answers a request no route matches as the server it simulates would refuse it, from
// what Microsoft documents (package sql/contract) and what the world holds:
//
//   - error 208 "Invalid object name 'X'." for a table or view the database does not have (a
//     documented object in another database or on the other platform, or a table the world lacks);
//   - error 2812 for a procedure it does not have;
//   - error 207 "Invalid column name 'X'." for a column the documented object does not have, 209
//     for an ambiguous one, 4104 for a qualifier that names no table;
//   - on Azure SQL Database, 40515 for a three-part name and 40508 for USE of another database.
//
// A request that is none of these is one the simulator cannot answer: tdssim.NoAnswerError, never
// a SQL Server number a client would take for a missing object.
func (s *Servers) unrouted(srv serverKind) tdssim.HandlerFunc {
	return func(r *tdssim.Request) (*tdssim.Result, error) {
		if err := s.contractRefusal(s.view(srv, r), r); err != nil {
			return nil, err
		}
		what := r.Proc
		if what == "" {
			what = r.Normalized()
		}
		return nil, tdssim.NoAnswerError(what)
	}
}

// contractRefusal is SQL Server's error for the request, or nil when nothing in it is known to be
// wrong (or it cannot be read).
func (s *Servers) contractRefusal(v view, r *tdssim.Request) error {
	c, err := contract.Load()
	if err != nil {
		return tdssim.NoAnswerError("the contract did not load: " + err.Error())
	}
	if r.Proc != "" {
		script, err := tsql.Parse(r.Proc)
		if err == nil && len(script.Statements) == 1 {
			if e, ok := script.Statements[0].(*tsql.ExecStatement); ok {
				if !s.exists(c, v, tsql.ObjectUse{Name: e.Proc, Kind: tsql.ProcedureObject}) {
					return tdssim.ProcNotFoundError(r.Proc)
				}
			}
		}
		return nil
	}
	script, err := tsql.Parse(r.SQL)
	if err != nil {
		return nil
	}
	return s.refusal(c, v, script)
}

func platformOf(srv serverKind) contract.Platform {
	if srv == serverTarget {
		return contract.AzureSQL
	}
	return contract.SQLServer
}

func contractDB(k dbKind) contract.Database {
	switch k {
	case dbAX:
		return contract.SourceDB
	case dbDistribution:
		return contract.DistributionDB
	case dbTarget:
		return contract.SandboxDB
	case dbMaster:
		return contract.Master
	case dbMsdb:
		return contract.Msdb
	}
	return ""
}

// refusal is SQL Server's error for a batch, or nil when nothing in it is known to be wrong.
func (s *Servers) refusal(c *contract.Contract, v view, script *tsql.Script) error {
	p := platformOf(v.server)
	refs := tsql.Resolve(script, catalogView{c: c, s: s, v: v})
	for _, u := range refs.Uses {
		if p == contract.AzureSQL && !strings.EqualFold(u.Database.Name, v.dbName) {
			return &tdssim.Error{Number: 40508, State: 1, Class: 16,
				Message: "USE statement is not supported to switch between databases. Use a new connection to connect to a different database."}
		}
	}
	for _, o := range refs.Objects {
		if p == contract.AzureSQL && (o.Name.Database() != "" || o.Name.Server() != "") {
			return &tdssim.Error{Number: 40515, State: 1, Class: 16,
				Message: fmt.Sprintf("Reference to database and/or server name in '%s' is not supported in this version of SQL Server.", o.Name)}
		}
		if !s.exists(c, v, o) {
			if o.Kind == tsql.ProcedureObject {
				return tdssim.ProcNotFoundError(o.Name.String())
			}
			return tdssim.InvalidObjectError(o.Name.String())
		}
	}
	for _, u := range refs.Columns {
		switch {
		case u.Problem == tsql.Unbound:
			return tdssim.UnboundIdentifierError(u.Ref.String())
		case u.Problem == tsql.Ambiguous && !u.Uncertain:
			return tdssim.AmbiguousColumnError(u.Ref.Column())
		case u.Problem == tsql.Invalid:
			return tdssim.InvalidColumnError(u.Ref.Column())
		}
	}
	return nil
}

// dbOf is the database an object name refers to from the session's database.
func (s *Servers) dbOf(v view, n *tsql.ObjectName) dbKind {
	if d := n.Database(); d != "" {
		return s.dbKind(v.server, d)
	}
	return v.db
}

// exists reports whether the session's server has the object: a documented object where its
// page says it is, or a table of the world's AX or sandbox database.
func (s *Servers) exists(c *contract.Contract, v view, o tsql.ObjectUse) bool {
	if o.Name.Server() != "" {
		return false
	}
	k := s.dbOf(v, o.Name)
	if k == dbOther || (k == dbDistribution && s.world.ReplicationRemoved()) {
		return false
	}
	p := platformOf(v.server)
	if obj, ok := c.LookupName(o.Name); ok && obj.AppliesTo(p) && (o.Kind == tsql.ProcedureObject) == (obj.Kind == contract.Procedure) {
		// System procedures live in master and run from every database.
		if obj.In(contractDB(k)) || (obj.Kind == contract.Procedure && obj.In(contract.Master) && strings.EqualFold(o.Name.Schema(), "sys")) {
			return true
		}
	}
	if o.Kind != tsql.TableObject || (k != dbAX && k != dbTarget) {
		return false
	}
	if sch := o.Name.Schema(); sch != "" && !strings.EqualFold(sch, "dbo") {
		return false
	}
	return s.world.tableExists(k == dbTarget, o.Name.Object())
}

// catalogView is the contract's columns of the objects the session's database has; anything else
// (the world's tables, objects whose columns are not documented) has unknown columns.
type catalogView struct {
	c *contract.Contract
	s *Servers
	v view
}

func (k catalogView) Columns(n *tsql.ObjectName) ([]string, bool) {
	db := k.s.dbOf(k.v, n)
	if db == dbOther {
		return nil, false
	}
	return k.c.Catalog(contractDB(db), platformOf(k.v.server)).Columns(n)
}

// tableExists reports whether the AX database (target false) or the sandbox has the table now.
func (w *World) tableExists(target bool, name string) bool {
	w.lock()
	defer w.mu.Unlock()
	i, ok := w.byName[upper(name)]
	if !ok {
		return target && containsFold(w.sysTgt, name)
	}
	t := w.tables[i]
	if target {
		_, ok = w.tgtRows(i, t)
		return ok
	}
	return !(t.kind == kindSystem && w.removed())
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
