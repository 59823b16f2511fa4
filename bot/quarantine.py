"""`python -m bot.quarantine`, (named in #16): the same as `python -m bot quarantine`."""

if __name__ == "__main__":
    from bot.tools.quarantine import main

    raise SystemExit(main())
