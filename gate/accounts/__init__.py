"""Users, roles and logins of the office and gate web UI."""
