//! The gateway: `cordon serve` answers hook decisions on the home's Unix socket
//! (`state/gateway.sock`, mode 0600), so a hook process does not open the journal and load the
//! key for every tool call.
//!
//! The gateway decides with the very same function the hook runs in process (`agents::decide`) and
//! records through the same `Recorder`, so the two paths cannot give different answers; a test
//! plays one session both ways and compares verdicts and journals. A hook uses the gateway when
//! the socket accepts a connection and decides in process when it does not. Once connected,
//! any failure (a closed connection, a garbled or late reply) is a denial, not a fallback:
//! the gateway may already have recorded the decision.
//!
//! `cordon exec` asks the gateway only for the decision (`{"analyse": …}`); it parses the text
//! itself, checks that the gateway judged the same facts, and then runs the command in its own
//! process, since the sandbox is per process. An analysis records nothing, so unlike a hook's
//! decision any failure after connecting (no reply within `EXEC_TIMEOUT`, a closed connection,
//! a reply that does not parse or judged other facts) falls back to deciding in process: that is
//! still the policy's own decision, so it is not fail-open, and nothing the socket sent is used.
//! `CORDON_GATEWAY=require` makes every such failure a denial instead (and proves, in tests and
//! benchmarks, which path was taken); `CORDON_GATEWAY=off` never connects. The socket is used
//! only when it is a socket owned by this user; anything else is refused, with a note on stderr.
//!
//! Hostile clients ([`peer`], and `server`'s module docs): a connection is served only when its
//! peer is a process of the gateway's own user that no sandbox confines, so a command cordon runs
//! cannot reach its own gateway. Requests carry no policy path: a decision uses the home's policy,
//! an analysis the policy of the session it names, else the home's. A tool outcome is recorded
//! only for a decision this gateway made, and names it.
//!
//! Group commit: the gateway writes each hook record to the journal before it answers, and a
//! flusher thread syncs it right after, one data sync for every record written meanwhile; a
//! record left unsynced longer than `MAX_UNSYNCED` (the flusher fell behind a slow disk) is
//! synced before the next one is written. A crash of any process loses nothing that was
//! answered; a power cut can lose the last few milliseconds of hook records, which never claim
//! that anything ran (docs/journal.md, "Durability of hook records"). A sync that fails drops
//! the open journal: the next request reopens it, which syncs what was written, or is denied.
//!
//! Policy cache: the gateway keeps (and hands to every decision it makes, as its
//! `PolicySource`) each policy file loaded and compiled, keyed by the file's
//! identity (path, device, inode, length, mtime). When the identity changes the file is read and
//! its SHA-256 compared: the same bytes keep the cached policy, other bytes are loaded afresh, so
//! an edited policy applies from the next request on and a stale one is never served.
//!
//! Wire format: one JSON object per line each way. Request `{"decide": {"request": ToolRequest,
//! "settings": Settings}}`, `{"outcome": ToolOutcome}` or `{"analyse": ExecAnalysisRequest}`; reply
//! `{"verdict": Verdict}`, `{"recorded": true}`, `{"analysis": ExecAnalysis}` or
//! `{"error": "sentence"}`.
//!
//! Modules: [`wire`] (the messages), [`server`] (`cordon serve`'s side), [`peer`] (who may
//! connect), [`client`] (the hook's and `cordon exec`'s side).

pub mod client;
pub mod peer;
pub mod server;
pub mod wire;
