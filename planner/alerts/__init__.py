"""Anomalies, budgets and the alerts (emails, webhooks) they send."""
