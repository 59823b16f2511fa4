"""Post a correctly signed group message to a running service, as Zalo would.

    .venv/bin/python -m bot say "/whoami"
    .venv/bin/python -m bot say --sender 2000000000000000001 "Cho em hỏi giá"

Signs with ZALO_APP_ID / ZALO_OA_SECRET_KEY from the environment or .env (local-mode
defaults when unset). Handy for trying the bot without a Zalo Official Account.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from dotenv import load_dotenv

from bot.zalo.payloads import group_message, signed
from config.settings import load_settings


def main(argv: Sequence[str] | None = None) -> None:
    load_dotenv()
    settings = load_settings()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("text", help="what the member types")
    parser.add_argument(
        "--sender", default="1000000000000000001", help="Zalo user id of the member"
    )
    parser.add_argument("--group", default="demo-group-1", help="Zalo group id")
    parser.add_argument("--quote", default=None, help="msg_id this message replies to")
    parser.add_argument("--url", default=f"http://127.0.0.1:{settings.port}/zalo/webhook")
    args = parser.parse_args(argv)
    body = group_message(
        group_id=args.group,
        sender_id=args.sender,
        text=args.text,
        at=datetime.now(UTC),
        app_id=settings.signing_app_id,
        quote_msg_id=args.quote,
        oa_id=settings.signing_oa_id,
    )
    raw, headers = signed(body, app_id=settings.signing_app_id, secret=settings.signing_secret)
    response = httpx.post(args.url, content=raw, headers=headers, timeout=10)
    print(response.status_code, response.text, f"(msg_id {body['message']['msg_id']})")


if __name__ == "__main__":
    main()
