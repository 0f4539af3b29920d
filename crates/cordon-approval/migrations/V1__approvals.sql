-- cordon approvals on PostgreSQL, version 1: the same tables as the embedded SQLite store, in their
-- own schema, plus the machine that filed each request and the machine that used each approval.
CREATE SCHEMA IF NOT EXISTS cordon_approvals;

CREATE TABLE cordon_approvals.requests (
    id TEXT PRIMARY KEY,
    machine TEXT NOT NULL,
    contract TEXT NOT NULL,
    contract_sha256 TEXT NOT NULL,
    session_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    reason TEXT NOT NULL,
    required_approvers INTEGER NOT NULL CHECK (required_approvers BETWEEN 1 AND 2),
    created_at BIGINT NOT NULL,
    deadline BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending','approved','denied','expired','consumed')),
    answered_by TEXT,
    answer_reason TEXT,
    answered_at BIGINT,
    notified_at BIGINT
);
CREATE INDEX requests_by_state ON cordon_approvals.requests (state, created_at DESC);

CREATE TABLE cordon_approvals.approvals (
    seq BIGSERIAL NOT NULL,
    approval_id TEXT PRIMARY KEY,
    nonce TEXT NOT NULL UNIQUE,
    request_id TEXT REFERENCES cordon_approvals.requests(id),
    contract_sha256 TEXT NOT NULL,
    identity TEXT NOT NULL,
    public_key TEXT NOT NULL,
    scope TEXT NOT NULL,
    single_use BOOLEAN NOT NULL,
    expires_at TEXT NOT NULL,
    artifact TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    UNIQUE (request_id, identity),
    UNIQUE (request_id, public_key)
);
CREATE INDEX approvals_standing ON cordon_approvals.approvals (seq) WHERE NOT single_use;

CREATE TABLE cordon_approvals.consumed (
    approval_id TEXT PRIMARY KEY,
    nonce TEXT NOT NULL UNIQUE,
    contract_sha256 TEXT NOT NULL,
    consumed_at BIGINT NOT NULL,
    consumer TEXT NOT NULL,
    machine TEXT NOT NULL
);

CREATE TABLE cordon_approvals.uses (
    approval_id TEXT NOT NULL,
    contract_sha256 TEXT NOT NULL,
    used_at BIGINT NOT NULL,
    consumer TEXT NOT NULL,
    machine TEXT NOT NULL
);
