-- Text keys compare bytewise, whatever the database's collation.
--
-- The PostgreSQL twin declares the text keys that are paged and sorted `COLLATE "C"`.
-- SQLite compares text with its BINARY collation unless told otherwise, which is
-- already bytewise: nothing changes here.
SELECT 1;
