"""What the admin pages keep: their sessions, each web service's configuration history, a change history,
and the communication log's error code with an index for every debugger filter.

- admin_session: keyed, like sessions, by the SHA-256 of the cookie's value; apart from GI sessions, so a
  browser's cookie is never a SessionID for the API, and an API session never opens the admin pages.
- webservice_version: every configuration a web service has had, numbered from 1 per web service.
- change_history: who did what when (console and admin pages alike), for the web-service page and the
  mail-queue page; object_name keeps a deleted web service's entries readable.
- communication_log.error_code: the Error.ErrorCode an operation answered (HTTP 200, as Znuny does), so
  the debugger can count and filter errors that are not HTTP errors.
"""

from yoyo import step

from gateway.store import ddl

__depends__ = {"0006_login_failure_purge"}

SCHEMA = """
CREATE TABLE admin_session (
    id VARCHAR(64) PRIMARY KEY, user_id INTEGER NOT NULL, user_login VARCHAR(200) NOT NULL,
    remote_addr VARCHAR(50), user_agent VARCHAR(250), create_time {ts} NOT NULL, last_request {ts} NOT NULL);
CREATE INDEX ix_admin_session_last_request ON admin_session (last_request);
CREATE TABLE webservice_version (
    id {pk}, webservice_id INTEGER NOT NULL, version INTEGER NOT NULL, config TEXT NOT NULL,
    create_by VARCHAR(200) NOT NULL, create_time {ts} NOT NULL, UNIQUE (webservice_id, version));
CREATE TABLE change_history (
    id {pk}, subject VARCHAR(20) NOT NULL, object_id INTEGER, object_name VARCHAR(200) NOT NULL,
    actor VARCHAR(200) NOT NULL, action VARCHAR(50) NOT NULL, detail TEXT NOT NULL, create_time {ts} NOT NULL);
CREATE INDEX ix_change_history_object ON change_history (subject, object_id, id);
CREATE INDEX ix_change_history_subject ON change_history (subject, id);
ALTER TABLE communication_log ADD COLUMN error_code VARCHAR(100);
CREATE INDEX ix_communication_log_time ON communication_log (webservice_id, create_time);
CREATE INDEX ix_communication_log_operation ON communication_log (webservice_id, operation, id);
CREATE INDEX ix_communication_log_status ON communication_log (webservice_id, http_status, id);
CREATE INDEX ix_communication_log_error ON communication_log (webservice_id, error_code, id);
CREATE INDEX ix_communication_log_remote ON communication_log (webservice_id, remote_ip, id);
-- the errors alone (the debugger's "errors" filter), as cheap when they are rare as when they are many
CREATE INDEX ix_communication_log_failed ON communication_log (webservice_id, id)
    WHERE http_status >= 400 OR error_code IS NOT NULL;
-- the configurations the web services have now are their first version
INSERT INTO webservice_version (webservice_id, version, config, create_by, create_time)
    SELECT id, 1, config, 'migration', change_time FROM webservice
"""

ROLLBACK = """
DROP INDEX ix_communication_log_failed;
DROP INDEX ix_communication_log_remote;
DROP INDEX ix_communication_log_error;
DROP INDEX ix_communication_log_status;
DROP INDEX ix_communication_log_operation;
DROP INDEX ix_communication_log_time;
ALTER TABLE communication_log DROP COLUMN error_code;
DROP TABLE change_history;
DROP TABLE webservice_version;
DROP TABLE admin_session
"""


def apply(conn: ddl.Connection) -> None:
    ddl.run(conn, SCHEMA)


def rollback(conn: ddl.Connection) -> None:
    ddl.run(conn, ROLLBACK)


steps = [step(apply, rollback)]
