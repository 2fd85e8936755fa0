-- A cached upload is sent again with what the first delivery carried: its performer and caption
-- (title, duration, size, source link).
ALTER TABLE uploads ADD COLUMN performer TEXT;
ALTER TABLE uploads ADD COLUMN caption TEXT;
