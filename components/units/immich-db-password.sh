# The script of immich-db-password.service (NixOS writes it with `set -e`; psql comes from its `path`).
# Runs as postgres (peer login over the socket) and sets the immich role's password to the sops secret,
# which systemd hands over as the credential `db_password`. The password is read by psql itself (its
# backtick `\set`), so it is in no process's argv or environment; the session turns off the statement
# logging that could write an ALTER ROLE (with its password) into PostgreSQL's log on an error.
psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 --dbname=postgres <<'SQL'
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
SET log_min_duration_statement = -1;
\set password `cat "$CREDENTIALS_DIRECTORY/db_password"`
ALTER ROLE "immich" WITH LOGIN PASSWORD :'password';
SQL
echo "immich-db-password: the password of PostgreSQL role immich is the sops secret's"
