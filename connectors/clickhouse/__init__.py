"""ClickHouse access through clickhouse-connect: client factory and migrations."""
