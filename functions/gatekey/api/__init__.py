"""The management API: one Powertools Router per resource."""
