"""Staff: the directory (/staff), /vangmat, /help and /whoami, sign-in links, dashboard
passwords, care assignments (/api/care/assignments)."""
