"""postgresql-setup.service of the sandbox: the roles and databases services.postgresql ensures.

As nixpkgs' postgresql-setup does: ensureDatabases first, then each of ensureUsers (its LOGIN clause and,
with ensureDBOwnership, the ownership of the database of the same name). Names reach PostgreSQL as psql
variables and are quoted by it (format %I), never spliced into SQL text.

    postgresql-setup.py PSQL SPEC-JSON     (SPEC: {"databases": [...], "users": [{"name", "login", "ensureDBOwnership"}]})
"""

import json
import subprocess
import sys


def run(psql, sql, **names):
    argv = [psql, "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "--dbname=postgres"]
    for key, value in names.items():
        argv += ["-v", f"{key}={value}"]
    subprocess.run(argv, input=sql, text=True, check=True)


def main(psql, spec):
    for name in spec["databases"]:
        run(psql, "SELECT format('CREATE DATABASE %I', :'name') "
                  "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name')\\gexec\n", name=name)
    for user in spec["users"]:
        run(psql, "SELECT format('CREATE ROLE %I', :'name') "
                  "WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name')\\gexec\n", name=user["name"])
        if user.get("login"):
            run(psql, "SELECT format('ALTER ROLE %I LOGIN', :'name')\\gexec\n", name=user["name"])
        if user.get("ensureDBOwnership"):
            run(psql, "SELECT format('ALTER DATABASE %I OWNER TO %I', :'name', :'name')\\gexec\n", name=user["name"])
    print(f"postgresql-setup: databases {', '.join(spec['databases'])}; roles {', '.join(u['name'] for u in spec['users'])}",
          flush=True)


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
