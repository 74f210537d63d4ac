// Package tdssim is a small SQL Server simulator: a TDS server that the
// real driver github.com/microsoft/go-mssqldb, and any other SQL Server
// client (FreeTDS, tedious, jTDS), talks to over TCP. It stands in for the
// AX 2012 SQL Server, the replication distributor and Azure SQL in tests,
// in the offline demo and in `cutover sim`, so the application's own data
// layer, SQL text and driver are exercised unchanged.
//
// The reference is Microsoft's open specification [MS-TDS]: every TDS 7.x
// version (7.0 to 7.4) is served in its own layout, as the client's LOGIN7
// asks, and TDS 8.0 (TLS before PRELOGIN) where Config.Strict says the
// simulated server has it. What a real server refuses, tdssim refuses.
//
// # Serving
//
// A Server answers PRELOGIN, LOGIN7 (with an optional Auth hook), SQL
// batches, RPCs (sp_executesql and procedures called by name, with full
// parameter decoding) and Transaction Manager requests (BeginTx, Commit,
// Rollback). Requests go to a Handler, usually a Router:
//
//	rt := tdssim.NewRouter()
//	rt.Exact("select name from sys.databases", func(r *tdssim.Request) (*tdssim.Result, error) {
//		return tdssim.Rows([]tdssim.Column{{Name: "name", Type: tdssim.TypeNVarChar, Size: 128}},
//			tdssim.Row{"master"}, tdssim.Row{"AXDB"}), nil
//	})
//	srv := tdssim.New(tdssim.Config{Handler: rt})
//	_ = srv.Listen("127.0.0.1:0")
//	defer srv.Close()
//	db, _ := sql.Open("sqlserver", srv.DSN("AXDB"))
//
// SQL without a route gets error 208 naming the first table it names (2812 for
// a procedure), or NoAnswerError, so gaps fail loudly.
//
// # Batches
//
// A batch whose whole text has a route goes to it. Any other batch is read
// as SQL Server reads one (batch.go): split into statements where T-SQL's
// grammar ends them, a syntax error failing the whole batch before anything
// runs (102, 156, 105, 113, 195), then each statement answered in order,
// its DONE with DONE_MORE unless it is the last and with its row count
// unless SET NOCOUNT ON. The server answers the session statements itself:
// SET options, USE (Config.Use decides which databases exist), BEGIN/COMMIT/
// ROLLBACK/SAVE TRANSACTION (the transaction of the Transaction Manager
// requests), DECLARE and SET of variables, PRINT and RAISERROR. EXEC reaches
// the handler as the procedure call an RPC makes. A SELECT with a route goes
// to it; else the ad hoc evaluator (adhoc.go) answers it over Config.Catalog
// (SELECTs without FROM need none); what it does not read goes to the
// handler. Session.CurrentDatabase, NoCount, Option and TranCount read what
// a session's statements set.
//
// # Encryption
//
// With Config.TLS set (SelfSignedTLS makes one and writes the certificate
// PEM; LoadOrCreateTLS keeps one in a directory), the server offers
// encryption as SQL Server does: a client using encrypt=true&certificate=
// <pem> gets a full TLS session, a client without an encrypt option gets
// login-only TLS, and encrypt=disable stays plaintext. The handshake inside
// PRELOGIN negotiates at most TLS 1.2; encrypt=strict (TDS 8.0, TLS 1.3
// possible) needs Config.Strict. RequireEncryption refuses clients that
// cannot encrypt. Without Config.TLS the server answers ENCRYPT_NOT_SUP and
// encrypt=true clients fail with "server does not support encryption".
//
// # Requests and cancellation
//
// Requests run one at a time per connection, in the order they arrive; a
// request sent before the previous one was answered waits its turn. The
// request context is cancelled when the client sends ATTENTION (context
// cancel or deadline). Every ATTENTION is acknowledged exactly once, by a
// DONE(ATTN) message of its own: after the cancelled response or, when it
// arrives after the response was complete (the common case after an early
// rows.Close()), at once. A request the client abandons with the IGNORE bit
// is answered with a DONE(ERROR).
//
// # Faults
//
// Server.Faults holds runtime fault rules (delays, SQL errors, severe
// errors, dropped connections, hangs, ignored attentions, garbage tokens,
// refused connections), matched by phase, SQL, procedure, user and
// database and fired on the first N, every Nth, with a seeded probability
// or after a time. See FaultAction for what the driver reports for each.
package tdssim
