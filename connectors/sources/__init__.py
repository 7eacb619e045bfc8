"""Pull collectors: Prometheus exposition scrapes, federation/query API, DCGM, CNF."""
