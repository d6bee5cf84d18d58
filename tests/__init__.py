"""gateway's tests: unit tests beside end-to-end ones through gunicorn, on SQLite and PostgreSQL."""
