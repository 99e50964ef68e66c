-- Text keys compare bytewise, whatever the database's collation.
--
-- Ids are paged with `<` and `>` and listed with ORDER BY; product codes are paged the
-- same way. Under a database collation that is not C (ICU `en-US`, or a libc
-- `en_US.UTF-8` cluster, the default of many installations) punctuation is ignored at
-- first and case folded, so `'run_01…' < 'run_~'` is false and a product code page
-- would follow another order than the one the client's cursor assumes. Declaring these
-- columns `COLLATE "C"` makes every comparison and sort on them bytewise, as SQLite's
-- BINARY already is. A foreign key column takes the collation of the key it refers to.
ALTER TABLE products ALTER COLUMN code TYPE TEXT COLLATE "C";
ALTER TABLE stock_levels ALTER COLUMN product_code TYPE TEXT COLLATE "C";
ALTER TABLE stock_levels ALTER COLUMN county_code TYPE TEXT COLLATE "C";
ALTER TABLE stock_levels ALTER COLUMN warehouse_code TYPE TEXT COLLATE "C";
ALTER TABLE stock_pools ALTER COLUMN product_code TYPE TEXT COLLATE "C";
ALTER TABLE stock_pools ALTER COLUMN county_code TYPE TEXT COLLATE "C";
ALTER TABLE order_lines ALTER COLUMN product_code TYPE TEXT COLLATE "C";
ALTER TABLE holds ALTER COLUMN product_code TYPE TEXT COLLATE "C";
ALTER TABLE holds ALTER COLUMN county_code TYPE TEXT COLLATE "C";
ALTER TABLE inventory_log ALTER COLUMN product_code TYPE TEXT COLLATE "C";
ALTER TABLE inventory_log ALTER COLUMN county_code TYPE TEXT COLLATE "C";

ALTER TABLE sync_runs ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE sync_failures ALTER COLUMN run_id TYPE TEXT COLLATE "C";
ALTER TABLE external_calls ALTER COLUMN sync_run_id TYPE TEXT COLLATE "C";

ALTER TABLE orders ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE order_lines ALTER COLUMN order_id TYPE TEXT COLLATE "C";
ALTER TABLE holds ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE holds ALTER COLUMN order_id TYPE TEXT COLLATE "C";
ALTER TABLE inventory_log ALTER COLUMN order_id TYPE TEXT COLLATE "C";
ALTER TABLE external_calls ALTER COLUMN order_id TYPE TEXT COLLATE "C";
ALTER TABLE supplier_events ALTER COLUMN order_id TYPE TEXT COLLATE "C";
ALTER TABLE supplier_events ALTER COLUMN callback_id TYPE TEXT COLLATE "C";
ALTER TABLE supplier_callbacks ALTER COLUMN id TYPE TEXT COLLATE "C";

ALTER TABLE jobs ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE jobs ALTER COLUMN status TYPE TEXT COLLATE "C";
ALTER TABLE jobs ALTER COLUMN dedupe_key TYPE TEXT COLLATE "C";
ALTER TABLE job_attempts ALTER COLUMN job_id TYPE TEXT COLLATE "C";
ALTER TABLE external_calls ALTER COLUMN job_id TYPE TEXT COLLATE "C";
