"""The data model, with Znuny's table semantics (scripts/database/schema.xml), for both backends."""

from yoyo import step

from gateway.store import ddl

SCHEMA = """
CREATE TABLE valid (id {pk}, name VARCHAR(200) NOT NULL UNIQUE);

-- agents, groups and their permissions (ro, move_into, create, note, owner, priority, rw)
CREATE TABLE users (
    id {pk}, login VARCHAR(200) NOT NULL UNIQUE, pw VARCHAR(256) NOT NULL, title VARCHAR(50),
    first_name VARCHAR(100) NOT NULL, last_name VARCHAR(100) NOT NULL, email VARCHAR(150) NOT NULL,
    valid_id SMALLINT NOT NULL DEFAULT 1, last_login {ts},
    create_time {ts} NOT NULL, change_time {ts} NOT NULL);
CREATE TABLE user_preferences (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, preferences_key VARCHAR(150) NOT NULL,
    preferences_value TEXT, PRIMARY KEY (user_id, preferences_key));
CREATE TABLE permission_groups (
    id {pk}, name VARCHAR(200) NOT NULL UNIQUE, comments VARCHAR(250),
    valid_id SMALLINT NOT NULL DEFAULT 1, create_time {ts} NOT NULL, change_time {ts} NOT NULL);
CREATE TABLE group_user (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES permission_groups(id) ON DELETE CASCADE,
    permission_key VARCHAR(20) NOT NULL, create_time {ts} NOT NULL,
    PRIMARY KEY (user_id, group_id, permission_key));
CREATE INDEX ix_group_user_group ON group_user (group_id, permission_key);

-- customers
CREATE TABLE customer_company (
    customer_id VARCHAR(150) PRIMARY KEY, name VARCHAR(200) NOT NULL UNIQUE, street VARCHAR(200),
    zip VARCHAR(200), city VARCHAR(200), country VARCHAR(200), url VARCHAR(200), comments VARCHAR(250),
    valid_id SMALLINT NOT NULL DEFAULT 1, create_time {ts} NOT NULL, change_time {ts} NOT NULL);
CREATE TABLE customer_user (
    id {pk}, login VARCHAR(200) NOT NULL UNIQUE, email VARCHAR(150) NOT NULL,
    customer_id VARCHAR(150) NOT NULL REFERENCES customer_company(customer_id),
    pw VARCHAR(256), title VARCHAR(50), first_name VARCHAR(100) NOT NULL, last_name VARCHAR(100) NOT NULL,
    phone VARCHAR(150), mobile VARCHAR(150), valid_id SMALLINT NOT NULL DEFAULT 1,
    create_time {ts} NOT NULL, change_time {ts} NOT NULL);
CREATE INDEX ix_customer_user_customer_id ON customer_user (customer_id);
CREATE INDEX ix_customer_user_email ON customer_user (email);
CREATE TABLE group_customer_user (
    user_id VARCHAR(200) NOT NULL, group_id INTEGER NOT NULL REFERENCES permission_groups(id) ON DELETE CASCADE,
    permission_key VARCHAR(20) NOT NULL, PRIMARY KEY (user_id, group_id, permission_key));
CREATE TABLE group_customer (
    customer_id VARCHAR(150) NOT NULL, group_id INTEGER NOT NULL REFERENCES permission_groups(id) ON DELETE CASCADE,
    permission_key VARCHAR(20) NOT NULL, PRIMARY KEY (customer_id, group_id, permission_key));

-- queues and what they send with
CREATE TABLE system_address (
    id {pk}, value0 VARCHAR(200) NOT NULL, value1 VARCHAR(200) NOT NULL, queue_id INTEGER NOT NULL,
    valid_id SMALLINT NOT NULL DEFAULT 1, create_time {ts} NOT NULL, change_time {ts} NOT NULL);
CREATE TABLE signature (
    id {pk}, name VARCHAR(200) NOT NULL UNIQUE, text TEXT NOT NULL, content_type VARCHAR(250),
    valid_id SMALLINT NOT NULL DEFAULT 1, create_time {ts} NOT NULL, change_time {ts} NOT NULL);
CREATE TABLE queue (
    id {pk}, name VARCHAR(200) NOT NULL UNIQUE, group_id INTEGER NOT NULL REFERENCES permission_groups(id),
    system_address_id INTEGER NOT NULL REFERENCES system_address(id),
    signature_id INTEGER NOT NULL REFERENCES signature(id), unlock_timeout INTEGER NOT NULL DEFAULT 0,
    follow_up_lock SMALLINT NOT NULL DEFAULT 0, comments VARCHAR(250), valid_id SMALLINT NOT NULL DEFAULT 1,
    create_time {ts} NOT NULL, change_time {ts} NOT NULL);
CREATE INDEX ix_queue_group ON queue (group_id);

-- ticket catalogues
CREATE TABLE ticket_state_type (id {pk}, name VARCHAR(200) NOT NULL UNIQUE, comments VARCHAR(250));
CREATE TABLE ticket_state (
    id {pk}, name VARCHAR(200) NOT NULL UNIQUE, type_id INTEGER NOT NULL REFERENCES ticket_state_type(id),
    comments VARCHAR(250), valid_id SMALLINT NOT NULL DEFAULT 1);
CREATE TABLE ticket_priority (id {pk}, name VARCHAR(200) NOT NULL UNIQUE, valid_id SMALLINT NOT NULL DEFAULT 1);
CREATE TABLE ticket_type (id {pk}, name VARCHAR(200) NOT NULL UNIQUE, valid_id SMALLINT NOT NULL DEFAULT 1);
CREATE TABLE ticket_lock_type (id {pk}, name VARCHAR(200) NOT NULL UNIQUE);
CREATE TABLE service (
    id {pk}, name VARCHAR(200) NOT NULL UNIQUE, comments VARCHAR(250), valid_id SMALLINT NOT NULL DEFAULT 1);
CREATE TABLE sla (
    id {pk}, name VARCHAR(200) NOT NULL UNIQUE, first_response_time INTEGER, solution_time INTEGER,
    comments VARCHAR(250), valid_id SMALLINT NOT NULL DEFAULT 1);
CREATE TABLE service_sla (
    service_id INTEGER NOT NULL REFERENCES service(id) ON DELETE CASCADE,
    sla_id INTEGER NOT NULL REFERENCES sla(id) ON DELETE CASCADE, PRIMARY KEY (service_id, sla_id));
CREATE TABLE service_customer_user (
    customer_user_login VARCHAR(200) NOT NULL, service_id INTEGER NOT NULL REFERENCES service(id) ON DELETE CASCADE,
    PRIMARY KEY (customer_user_login, service_id));
CREATE TABLE ticket_history_type (id {pk}, name VARCHAR(200) NOT NULL UNIQUE);
CREATE TABLE article_sender_type (id {pk}, name VARCHAR(200) NOT NULL UNIQUE);
CREATE TABLE communication_channel (id {pk}, name VARCHAR(200) NOT NULL UNIQUE);

-- tickets, articles, attachments
CREATE TABLE ticket (
    id {pk}, tn VARCHAR(50) NOT NULL UNIQUE, title VARCHAR(255) NOT NULL,
    queue_id INTEGER NOT NULL REFERENCES queue(id), ticket_lock_id INTEGER NOT NULL REFERENCES ticket_lock_type(id),
    type_id INTEGER REFERENCES ticket_type(id), service_id INTEGER REFERENCES service(id),
    sla_id INTEGER REFERENCES sla(id), user_id INTEGER NOT NULL REFERENCES users(id),
    responsible_user_id INTEGER NOT NULL REFERENCES users(id),
    ticket_priority_id INTEGER NOT NULL REFERENCES ticket_priority(id),
    ticket_state_id INTEGER NOT NULL REFERENCES ticket_state(id),
    customer_id VARCHAR(150), customer_user_id VARCHAR(250), timeout {bigint} NOT NULL DEFAULT 0,
    until_time {bigint} NOT NULL DEFAULT 0, archive_flag SMALLINT NOT NULL DEFAULT 0,
    create_time {ts} NOT NULL, create_by INTEGER NOT NULL, change_time {ts} NOT NULL, change_by INTEGER NOT NULL);
CREATE INDEX ix_ticket_queue_state ON ticket (queue_id, ticket_state_id);
CREATE INDEX ix_ticket_state ON ticket (ticket_state_id);
CREATE INDEX ix_ticket_priority ON ticket (ticket_priority_id);
CREATE INDEX ix_ticket_type ON ticket (type_id);
CREATE INDEX ix_ticket_service ON ticket (service_id);
CREATE INDEX ix_ticket_sla ON ticket (sla_id);
CREATE INDEX ix_ticket_lock ON ticket (ticket_lock_id);
CREATE INDEX ix_ticket_owner ON ticket (user_id);
CREATE INDEX ix_ticket_responsible ON ticket (responsible_user_id);
CREATE INDEX ix_ticket_customer_id ON ticket (customer_id);
CREATE INDEX ix_ticket_customer_user ON ticket (customer_user_id);
CREATE INDEX ix_ticket_title ON ticket (title);
CREATE INDEX ix_ticket_create_time ON ticket (create_time);
CREATE INDEX ix_ticket_change_time ON ticket (change_time);
CREATE INDEX ix_ticket_until_time ON ticket (until_time);
CREATE TABLE ticket_number_counter (counter_date VARCHAR(8) PRIMARY KEY, counter {bigint} NOT NULL);
CREATE TABLE article (
    id {pk}, ticket_id {bigint} NOT NULL REFERENCES ticket(id) ON DELETE CASCADE,
    article_sender_type_id INTEGER NOT NULL REFERENCES article_sender_type(id),
    communication_channel_id INTEGER NOT NULL REFERENCES communication_channel(id),
    is_visible_for_customer SMALLINT NOT NULL, create_time {ts} NOT NULL, create_by INTEGER NOT NULL,
    change_time {ts} NOT NULL, change_by INTEGER NOT NULL);
CREATE INDEX ix_article_ticket ON article (ticket_id, id);
CREATE TABLE article_data_mime (
    id {pk}, article_id {bigint} NOT NULL UNIQUE REFERENCES article(id) ON DELETE CASCADE,
    a_from TEXT, a_reply_to TEXT, a_to TEXT, a_cc TEXT, a_bcc TEXT, a_subject TEXT, a_message_id TEXT,
    a_in_reply_to TEXT, a_references TEXT, a_content_type VARCHAR(250), a_body TEXT,
    incoming_time INTEGER NOT NULL);
CREATE INDEX ix_article_data_mime_message_id ON article_data_mime (a_message_id);
CREATE TABLE article_data_mime_attachment (
    id {pk}, article_id {bigint} NOT NULL REFERENCES article(id) ON DELETE CASCADE, filename VARCHAR(250),
    content_size VARCHAR(30), content_type VARCHAR(450), content_id VARCHAR(250),
    content_alternative VARCHAR(50), disposition VARCHAR(15), content {blob} NOT NULL);
CREATE INDEX ix_article_attachment_article ON article_data_mime_attachment (article_id);

-- dynamic fields
CREATE TABLE dynamic_field (
    id {pk}, name VARCHAR(200) NOT NULL UNIQUE, label VARCHAR(200) NOT NULL, field_order INTEGER NOT NULL,
    field_type VARCHAR(200) NOT NULL, object_type VARCHAR(100) NOT NULL, config TEXT NOT NULL,
    valid_id SMALLINT NOT NULL DEFAULT 1, create_time {ts} NOT NULL, change_time {ts} NOT NULL);
CREATE TABLE dynamic_field_value (
    id {pk}, field_id INTEGER NOT NULL REFERENCES dynamic_field(id) ON DELETE CASCADE,
    object_id {bigint} NOT NULL, value_text TEXT, value_date {ts}, value_int {bigint});
CREATE INDEX ix_dynamic_field_value_object ON dynamic_field_value (object_id, field_id);
CREATE INDEX ix_dynamic_field_value_text ON dynamic_field_value (field_id, value_text);
CREATE INDEX ix_dynamic_field_value_date ON dynamic_field_value (field_id, value_date);
CREATE INDEX ix_dynamic_field_value_int ON dynamic_field_value (field_id, value_int);

-- history and time accounting
CREATE TABLE ticket_history (
    id {pk}, name VARCHAR(200) NOT NULL, history_type_id INTEGER NOT NULL REFERENCES ticket_history_type(id),
    ticket_id {bigint} NOT NULL REFERENCES ticket(id) ON DELETE CASCADE, article_id {bigint},
    type_id INTEGER, queue_id INTEGER NOT NULL, owner_id INTEGER NOT NULL, priority_id INTEGER NOT NULL,
    state_id INTEGER NOT NULL, create_time {ts} NOT NULL, create_by INTEGER NOT NULL);
CREATE INDEX ix_ticket_history_ticket ON ticket_history (ticket_id, id);
CREATE INDEX ix_ticket_history_create_time ON ticket_history (create_time);
CREATE TABLE time_accounting (
    id {pk}, ticket_id {bigint} NOT NULL REFERENCES ticket(id) ON DELETE CASCADE, article_id {bigint},
    time_unit DECIMAL(10,2) NOT NULL, create_time {ts} NOT NULL, create_by INTEGER NOT NULL);
CREATE INDEX ix_time_accounting_ticket ON time_accounting (ticket_id);
CREATE INDEX ix_time_accounting_agent_time ON time_accounting (create_by, create_time);

-- sessions: the id is stored as its SHA-256 only
CREATE TABLE sessions (
    id VARCHAR(64) PRIMARY KEY, user_type VARCHAR(10) NOT NULL, user_login VARCHAR(200) NOT NULL,
    user_id INTEGER, remote_addr VARCHAR(50), user_agent VARCHAR(250),
    create_time {ts} NOT NULL, last_request {ts} NOT NULL);
CREATE INDEX ix_sessions_login ON sessions (user_type, user_login);
CREATE INDEX ix_sessions_last_request ON sessions (last_request);
CREATE INDEX ix_sessions_create_time ON sessions (create_time);
CREATE TABLE login_failure (
    failure_key VARCHAR(300) PRIMARY KEY, failures INTEGER NOT NULL, window_start {ts} NOT NULL);

-- web services in Znuny's YAML structure, and their communication log
CREATE TABLE webservice (
    id {pk}, name VARCHAR(200) NOT NULL UNIQUE, config TEXT NOT NULL, valid_id SMALLINT NOT NULL DEFAULT 1,
    create_time {ts} NOT NULL, change_time {ts} NOT NULL);
CREATE TABLE webservice_revision (id INTEGER PRIMARY KEY, revision {bigint} NOT NULL);
INSERT INTO webservice_revision (id, revision) VALUES (1, 0);
CREATE TABLE communication_log (
    id {pk}, webservice_id INTEGER NOT NULL, communication_id VARCHAR(32) NOT NULL,
    remote_ip VARCHAR(50), operation VARCHAR(200), http_status INTEGER NOT NULL, duration_ms INTEGER NOT NULL,
    request TEXT, response TEXT, create_time {ts} NOT NULL);
CREATE INDEX ix_communication_log_webservice ON communication_log (webservice_id, id);
CREATE INDEX ix_communication_log_create_time ON communication_log (create_time);

-- outgoing mail, written in the same transaction as its article
CREATE TABLE mail_queue (
    id {pk}, article_id {bigint} REFERENCES article(id) ON DELETE SET NULL, sender VARCHAR(200) NOT NULL,
    recipient TEXT NOT NULL, raw_message {blob} NOT NULL, state VARCHAR(10) NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0, due_time {ts} NOT NULL, locked_until {ts},
    last_smtp_code INTEGER, last_smtp_message TEXT, create_time {ts} NOT NULL);
CREATE INDEX ix_mail_queue_due ON mail_queue (state, due_time);
CREATE INDEX ix_mail_queue_article ON mail_queue (article_id)
"""


def apply(conn: ddl.Connection) -> None:
    ddl.run(conn, SCHEMA)


steps = [step(apply)]
