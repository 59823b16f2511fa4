"""The Zalo boundary: webhook events and their signature (pure), the OA API client, its errors,
the access-token lifecycle, the quarantine of events whose signature failed."""
