"""`python -m bot.inbox`, the name issue #15 gave it: the same as `python -m bot inbox`."""

if __name__ == "__main__":
    from bot.tools.inbox import main

    raise SystemExit(main())
