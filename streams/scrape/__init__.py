"""The spoke-side scrape worker (``aiops scrape``)."""
