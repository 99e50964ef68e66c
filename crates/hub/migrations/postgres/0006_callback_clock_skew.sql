-- The distance between a verified callback's TimeStamp (read as China time) and our
-- clock when it arrived, in seconds (positive: the supplier's clock is ahead). The
-- vendor documents no timestamp window, so callbacks are accepted whatever their age
-- and the skew is kept to see a clock that is off.
ALTER TABLE supplier_callbacks ADD COLUMN clock_skew_secs BIGINT;
