#!/usr/bin/env bash
# pg.sh: a throwaway PostgreSQL on 127.0.0.1:5499 (fsync off), database "bench"
PGB=/usr/lib/postgresql/15/bin
if ! su postgres -c "$PGB/pg_ctl -D /tmp/pgb/data status" >/dev/null 2>&1; then
  rm -rf /tmp/pgb; mkdir -p /tmp/pgb; chown postgres /tmp/pgb
  su postgres -c "$PGB/initdb -D /tmp/pgb/data -A trust -U postgres" >/dev/null
  su postgres -c "$PGB/pg_ctl -D /tmp/pgb/data -l /tmp/pgb/log -o '-p 5499 -k /tmp/pgb -h 127.0.0.1 -c fsync=off -c max_connections=300' -w start" >/dev/null
fi
psql -h 127.0.0.1 -p 5499 -U postgres -tc "select 1 from pg_database where datname='bench'" | grep -q 1 || createdb -h 127.0.0.1 -p 5499 -U postgres bench
echo postgres://postgres@127.0.0.1:5499/bench
