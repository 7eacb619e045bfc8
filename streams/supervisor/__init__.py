"""Process supervisor of ``aiops up``: every pipeline component as a restarted child process."""
