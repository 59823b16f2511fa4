"""Deal stages, department invites after the contract (3.1), handover (3.4), the customer
profile (/customer)."""
