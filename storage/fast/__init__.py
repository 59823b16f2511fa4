"""The speed layer, sealed: the few statements of every event sent straight to the database
driver (hot.py), the SQLite driver whose write transactions run on the event loop's thread
(sqlite_driver.py), and the hand-written SQL of the inbox (inbox.py) and of the SLA clock
(sla.py). Everything else goes through SQLModel.

Private attributes of third-party libraries are touched only in this package; each use says the
version it was checked against, and tests/storage/test_sqlite_driver.py and
tests/storage/test_hot.py fail if the library changes it.
"""
