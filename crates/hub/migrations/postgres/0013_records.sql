-- Records that the retailer's other systems send (PostgreSQL twin of
-- sqlite/0013_records.sql): POS transactions, supplier purchase orders and returns, and
-- members with their per-system mappings.
--
-- Every record is idempotent on (system, external id): a unique index, not a cache. The
-- content hash (SHA-256 of the canonical input) tells a repeat ("already recorded") from
-- a different record under a reused external id (409). Ids and external ids are paged
-- and compared bytewise (COLLATE "C", see 0004).

-- POS transactions: sales, refunds and voids. A refund or void names its sale
-- (sale_id). A sale keeps what has been refunded of it, in total (refunded_amount) and
-- per SKU (refunded_quantities, a JSON object SKU -> quantity), changed only while its
-- row is locked, so that concurrent refunds never exceed it.
CREATE TABLE pos_transactions (
    id TEXT COLLATE "C" PRIMARY KEY,
    system_id TEXT COLLATE "C" NOT NULL REFERENCES external_systems (id),
    external_id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    sale_id TEXT COLLATE "C" REFERENCES pos_transactions (id),
    store_code TEXT,
    customer TEXT,
    payment_method TEXT,
    lines TEXT NOT NULL,
    total NUMERIC NOT NULL,
    refunded_amount NUMERIC NOT NULL,
    refunded_quantities TEXT NOT NULL,
    lock_seq BIGINT NOT NULL DEFAULT 0,
    content_hash TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX pos_transactions_external ON pos_transactions (system_id, external_id);
CREATE INDEX pos_transactions_sale ON pos_transactions (sale_id) WHERE sale_id IS NOT NULL;
CREATE INDEX pos_transactions_occurred ON pos_transactions (occurred_at, id);

-- Supplier purchase orders and returns: pending -> confirmed -> shipped -> delivered, or
-- cancelled from pending or confirmed; the time each state was reached is kept.
CREATE TABLE supplier_orders (
    id TEXT COLLATE "C" PRIMARY KEY,
    system_id TEXT COLLATE "C" NOT NULL REFERENCES external_systems (id),
    external_id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL,
    lines TEXT NOT NULL,
    total NUMERIC NOT NULL,
    delivery TEXT,
    note TEXT,
    content_hash TEXT NOT NULL,
    pending_at TIMESTAMPTZ,
    confirmed_at TIMESTAMPTZ,
    shipped_at TIMESTAMPTZ,
    delivered_at TIMESTAMPTZ,
    cancelled_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX supplier_orders_external ON supplier_orders (system_id, external_id);
CREATE INDEX supplier_orders_created ON supplier_orders (created_at, id);

-- Members: our member, with the data of the last update applied to it.
CREATE TABLE members (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT,
    mobile TEXT,
    level TEXT COLLATE "C",
    points BIGINT NOT NULL,
    balance NUMERIC NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX members_updated ON members (updated_at, id);

-- An external member id per system, mapped to our member, with the version of the
-- newest update applied from that system (compare-and-set: an older one never wins).
CREATE TABLE member_mappings (
    system_id TEXT COLLATE "C" NOT NULL REFERENCES external_systems (id),
    external_id TEXT COLLATE "C" NOT NULL,
    member_id TEXT COLLATE "C" NOT NULL REFERENCES members (id),
    version BIGINT NOT NULL,
    content_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (system_id, external_id)
);
CREATE INDEX member_mappings_member ON member_mappings (member_id);
