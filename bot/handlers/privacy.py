"""Per-customer data export and deletion (data protection, seed 000 §3.5) (to be written)."""
