-- The mail outbox's claims (issue 12): a sender takes a due mail by setting its state to
-- 'sending' with its own id and a lease (one conditional UPDATE, so two senders never take the
-- same mail); the attempt's outcome clears them. A claim whose lease has lapsed (the sender
-- stopped mid-send) is recorded as an attempt of unknown outcome and the mail is queued again.
-- States: queued | sending | sent | failed.

ALTER TABLE mail_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE mail_outbox ADD COLUMN claimed_until TEXT;
