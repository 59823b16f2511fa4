"""/login (/dangnhap): a one-time sign-in link to the dashboard, sent 1:1 (to be written)."""
