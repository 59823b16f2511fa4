"""`python -m bot.doctor`, the name issue #16 gave it: the same as `python -m bot doctor`."""

if __name__ == "__main__":
    from bot.tools.doctor import main

    raise SystemExit(main())
