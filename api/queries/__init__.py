"""Data access: keyword-only functions issuing parameterised ClickHouse queries."""
