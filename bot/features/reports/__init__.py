"""Reports and digests: SLA, payments, incidents, care, satisfaction, customers and products,
response and approval times; /report, the daily, weekly and monthly digests, /api/reports."""
