"""Browser tests: the real app on a real port, driven by Chromium through Playwright."""
