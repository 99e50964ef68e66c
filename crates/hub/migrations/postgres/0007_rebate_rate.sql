-- The supplier's direct discount as a fraction (H2 `rebateRate`, protocol §0.2): 0.05 is 5 %.
ALTER TABLE products ADD COLUMN rebate_rate NUMERIC;
