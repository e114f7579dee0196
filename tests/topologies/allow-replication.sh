#!/bin/sh
# Init script of the primary in the topology tests: standbys may connect for replication.
printf 'host replication all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
