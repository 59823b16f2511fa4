"""Programs behind `python -m bot <command>`: doctor, demo, say, passwd, inbox, quarantine."""
