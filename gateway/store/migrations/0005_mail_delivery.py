"""Delivery of the outbox: every SMTP attempt, the claim of a worker, the time a message went out.

- mail_attempt: one row per try (reply code and text, or the connection error with no code), so
  a message's whole history stays visible after mail_queue keeps only the last reply.
- mail_queue.locked_by: the claim of one worker's batch; a worker records an outcome, renews or
  releases only rows that still carry its claim, so a lease taken over after expiry is left alone.
- mail_queue.sent_time. A finished (sent or failed) message's due_time is the time it finished,
  so one index on (state, due_time, id) serves the claim (oldest due first, read in index order
  up to the batch size), the listing by state and `mail-queue purge`; it replaces ix_mail_queue_due.
"""

from yoyo import step

from gateway.store import ddl

__depends__ = {"0004_time_accounting"}

SCHEMA = """
CREATE TABLE mail_attempt (
    id {pk}, mail_id {bigint} NOT NULL REFERENCES mail_queue(id) ON DELETE CASCADE,
    attempt_time {ts} NOT NULL, smtp_code INTEGER, smtp_message TEXT NOT NULL, worker VARCHAR(200) NOT NULL);
CREATE INDEX ix_mail_attempt_mail ON mail_attempt (mail_id, attempt_time);
ALTER TABLE mail_queue ADD COLUMN sent_time {ts};
ALTER TABLE mail_queue ADD COLUMN locked_by VARCHAR(250);
CREATE INDEX ix_mail_queue_claim ON mail_queue (state, due_time, id);
DROP INDEX ix_mail_queue_due
"""

ROLLBACK = """
CREATE INDEX ix_mail_queue_due ON mail_queue (state, due_time);
DROP INDEX ix_mail_queue_claim;
DROP TABLE mail_attempt;
ALTER TABLE mail_queue DROP COLUMN sent_time;
ALTER TABLE mail_queue DROP COLUMN locked_by
"""


def apply(conn: ddl.Connection) -> None:
    ddl.run(conn, SCHEMA)


def rollback(conn: ddl.Connection) -> None:
    ddl.run(conn, ROLLBACK)


steps = [step(apply, rollback)]
