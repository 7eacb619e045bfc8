"""Authentication (static tokens, Kubernetes TokenReview) and authorisation (RBAC, scope)."""
