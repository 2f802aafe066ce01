"""Actions: what happens after a verdict (reports, review queue, webhooks)."""
