-- Catalog mirror, regional stock and sync runs (PostgreSQL twin of sqlite/0001_catalog.sql).
-- Times are TIMESTAMPTZ (UtcTime); money is NUMERIC (Money).

-- Product groups (productGroupNamd), found or created by name.
CREATE TABLE categories (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

-- Brands (productBrandName), found or created by name.
CREATE TABLE brands (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

-- One row per SKU. For supplier products the code is the supplier's productCode.
CREATE TABLE products (
    code                  TEXT PRIMARY KEY,
    source                TEXT NOT NULL,              -- 'haier' | 'local'
    name                  TEXT NOT NULL,              -- productModel, else the code
    product_model         TEXT,                       -- productModel
    product_group         TEXT,                       -- productGroupNamd
    category_id           TEXT REFERENCES categories (id),
    brand_id              TEXT REFERENCES brands (id),
    image_url             TEXT,                       -- productImageUrl
    page_image_urls       JSONB NOT NULL,              -- productLageUrls, JSON array
    is_procurable         BOOLEAN NOT NULL,           -- isSales = "1"
    not_procurable_reason TEXT,                       -- noSalesReason
    supply_price          NUMERIC,                       -- supplyPrice
    invoice_price         NUMERIC,                       -- invoicePrice
    rebate_money          NUMERIC,                       -- rebateMoney (per unit)
    stock_rebate_policy   TEXT,                       -- stockRebatePolicy, as sent
    price_reason          TEXT,                       -- reason (H2)
    market_price          NUMERIC,                       -- never sent by the supplier
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX products_category ON products (category_id);
CREATE INDEX products_brand ON products (brand_id);

-- Regional stock: product x county x warehouse (H3).
CREATE TABLE stock_levels (
    product_code     TEXT NOT NULL REFERENCES products (code),
    county_code      TEXT NOT NULL,                   -- GB/T 2260 six digits
    warehouse_code   TEXT NOT NULL,                   -- secCode
    stock            BIGINT NOT NULL,                -- stock (sent as a string)
    warehouse_grade  TEXT NOT NULL,                   -- '0' own, '1' upper-level
    cut_time         TEXT,                            -- timelinessData.cutTime
    eta              TEXT,                            -- timelinessData.achieveUserOrderCut
    delivery_hours   TEXT,                            -- timelinessData.hour
    is_transfer      BOOLEAN,                         -- timelinessData.isTranfer = "1"
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (product_code, county_code, warehouse_code)
);

-- One row per sync run, written as the run progresses.
CREATE TABLE sync_runs (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,                    -- 'full' | 'incremental'
    status          TEXT NOT NULL,                    -- pending | processing | success | failed | partial
    scope           JSONB NOT NULL,                    -- JSON: the options of the run
    read_count      BIGINT NOT NULL DEFAULT 0,
    created_count   BIGINT NOT NULL DEFAULT 0,
    updated_count   BIGINT NOT NULL DEFAULT 0,
    unchanged_count BIGINT NOT NULL DEFAULT 0,
    failed_count    BIGINT NOT NULL DEFAULT 0,
    stock_written   BIGINT NOT NULL DEFAULT 0,
    calls           BIGINT NOT NULL DEFAULT 0,
    retries         BIGINT NOT NULL DEFAULT 0,
    rate_limited    BIGINT NOT NULL DEFAULT 0,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    duration_ms     BIGINT,
    error_summary   TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX sync_runs_status ON sync_runs (status, created_at);

-- Per-item failures of a run; a failure never aborts the run.
CREATE TABLE sync_failures (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES sync_runs (id),
    item         TEXT NOT NULL,                       -- a product code, or a chunk's first code
    stage        TEXT NOT NULL,                       -- catalog | prices | stock
    error_kind   TEXT NOT NULL,                       -- auth | transport | timeout | rate_limited | ...
    detail       TEXT NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sync_failures_run ON sync_failures (run_id);
