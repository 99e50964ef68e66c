-- The principal that created an order: an API key id (key_…) or a user id (usr_…);
-- null for the bootstrap admin token, a hub open to all, and orders made before this.
-- A storefront caller sees and acts on its own orders only: listed by (created_by, id).
ALTER TABLE orders ADD COLUMN created_by TEXT;
CREATE INDEX orders_created_by ON orders (created_by, id);
