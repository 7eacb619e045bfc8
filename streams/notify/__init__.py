"""The notifier worker (``aiops notify``): incidents, RCA reports and anomalies -> deliveries."""
