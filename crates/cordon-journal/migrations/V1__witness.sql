-- The cordon witness, version 1: per log (origin) the latest accepted checkpoint and the tree state
-- needed to extend it, the history of cosigned checkpoints and key rotations, and a mirror of every
-- pushed entry with the columns audit queries filter on. The signed line stays the source of truth.
CREATE SCHEMA IF NOT EXISTS cordon_witness;

CREATE TABLE cordon_witness.logs (
    log_id BIGSERIAL PRIMARY KEY,
    origin TEXT NOT NULL UNIQUE,
    machine TEXT NOT NULL,
    public_key BYTEA NOT NULL CHECK (length(public_key) = 32),
    size BIGINT NOT NULL CHECK (size >= 0),
    root BYTEA NOT NULL CHECK (length(root) = 32),
    frontier BYTEA NOT NULL,
    last_payload BYTEA,
    checkpoint TEXT NOT NULL,
    cosigned TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX logs_by_machine ON cordon_witness.logs (machine);

CREATE TABLE cordon_witness.checkpoints (
    log_id BIGINT NOT NULL REFERENCES cordon_witness.logs (log_id),
    size BIGINT NOT NULL,
    cosigned TEXT NOT NULL,
    accepted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (log_id, size)
);

CREATE TABLE cordon_witness.rotations (
    log_id BIGINT NOT NULL REFERENCES cordon_witness.logs (log_id),
    at_size BIGINT NOT NULL,
    old_key BYTEA NOT NULL,
    new_key BYTEA NOT NULL,
    statement TEXT NOT NULL,
    accepted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (log_id, at_size)
);

CREATE TABLE cordon_witness.entries (
    log_id BIGINT NOT NULL REFERENCES cordon_witness.logs (log_id),
    idx BIGINT NOT NULL,
    line TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('decision', 'receipt', 'other')),
    at TIMESTAMPTZ,
    actor TEXT,
    session_id TEXT,
    outcome TEXT,
    command TEXT,
    approvers TEXT,
    record_id TEXT,
    contract_sha256 TEXT,
    PRIMARY KEY (log_id, idx)
);
-- Commands an agent ran (receipts, by agent and time), on every machine or on one (its logs).
CREATE INDEX entries_commands ON cordon_witness.entries (actor, at) WHERE kind = 'receipt';
CREATE INDEX entries_commands_by_log ON cordon_witness.entries (log_id, actor, at) WHERE kind = 'receipt';
-- Every denial, by time.
CREATE INDEX entries_denials ON cordon_witness.entries (at) WHERE kind = 'decision' AND outcome = 'deny';
-- Every approval, by time.
CREATE INDEX entries_approvals ON cordon_witness.entries (at) WHERE kind = 'decision' AND approvers IS NOT NULL;
-- A receipt's decision, to give receipts their agent.
CREATE INDEX entries_records ON cordon_witness.entries (log_id, record_id) WHERE kind = 'decision';
