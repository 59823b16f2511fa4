"""The connection to Zalo as the installer sees it: the doctor's checks
(python -m bot doctor, /dashboard/zalo)."""
