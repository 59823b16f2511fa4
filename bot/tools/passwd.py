"""Dashboard passwords: scrypt hashes, and the command that sets one.

    .venv/bin/python -m bot passwd <zalo_user_id> --username <name>          # asks twice
    printf '%s\\n' "$PW" | .venv/bin/python -m bot passwd <id> --username <name> --stdin

This is how the first admin gets into the dashboard on a real deployment; after that, admins
set passwords on the directory page (or staff sign in with a /dangnhap link and need none).
The staff member must already be in the staff table (the staff file is loaded at every start).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.clock import SystemClock
from bot.core.render import labels
from bot.features.staff.passwords import (
    PasswordError,
    check_new_password,
    hash_password,
    normalize_username,
)
from config.settings import SettingsError, load_settings
from storage import repo

# --- the command ---------------------------------------------------------------------------------


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot passwd", description="Set a staff member's dashboard password."
    )
    parser.add_argument("zalo_user_id", help="the staff member's Zalo user id")
    parser.add_argument("--username", required=True, help="the name typed on the sign-in form")
    parser.add_argument(
        "--stdin", action="store_true", help="read the password from the first line of stdin"
    )
    return parser.parse_args(argv)


def _read_password(use_stdin: bool, stdin: TextIO) -> str:
    if use_stdin:
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mật khẩu mới / New password: ")
    if getpass.getpass("Nhập lại / Repeat: ") != first:
        raise PasswordError("password_mismatch")
    return first


async def set_password(database_url: str, user_id: str, username: str, password: str) -> None:
    """Store the hash for `user_id` and audit it; PasswordError when it cannot be done."""
    from storage.db import make_engine, make_sessions

    engine = make_engine(database_url)
    try:
        async with make_sessions(engine)() as db:
            await _store(db, user_id, username, hash_password(password))
            await db.commit()
    finally:
        await engine.dispose()


async def _store(db: AsyncSession, user_id: str, username: str, hashed: str) -> None:
    staff = await repo.get_staff(db, user_id=user_id)
    if staff is None or not staff.active:
        raise PasswordError("password_not_staff", user_id=user_id)
    holder = await repo.find_staff_by_username(db, username=username)
    if holder is not None and holder.zalo_user_id != user_id:
        raise PasswordError("username_taken", username=username, holder=holder.name)
    now = SystemClock().now()
    await repo.set_staff_password(
        db, user_id=user_id, username=username, password_hash=hashed, now=now
    )
    await repo.audit(
        db, at=now, actor_id="cli", action="staff.password_set", user_id=user_id, via="cli"
    )


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Parse the arguments, read the password, store it; 0 on success, 2 on a refusal."""
    from storage.db import upgrade

    args = _arguments(argv)
    if env is None:
        from dotenv import load_dotenv

        load_dotenv()
    try:
        settings = load_settings(env)
        username = normalize_username(args.username)
        password = _read_password(args.stdin, stdin or sys.stdin)
        check_new_password(password)
        upgrade(settings.database_url)
        asyncio.run(set_password(settings.database_url, args.zalo_user_id, username, password))
    except SettingsError as exc:
        print(_say("vi", "failed", reason=str(exc)), file=sys.stderr)
        return 2
    except PasswordError as exc:
        print(_say(settings.locale, "failed", reason=exc.text(settings.locale)), file=sys.stderr)
        return 2
    print(_say(settings.locale, "done", user_id=args.zalo_user_id, username=username))
    return 0


def _say(locale: str, key: str, **values: str) -> str:
    """A line of this program, from templates/<locale>/tools.toml."""
    line: str = labels(locale)["passwd"][key]
    return line.format(**values)


if __name__ == "__main__":
    raise SystemExit(main())
