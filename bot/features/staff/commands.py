"""/staff: list staff; heads and admins add, change and remove people, or reload the file."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.commands import HEADS, UsageError, command, within
from bot.core.context import Context
from bot.core.intents import Intent
from bot.core.text import fold
from storage import repo
from storage.models import ROLES
from storage.staff_file import StaffFileError, read_staff_file

ROLE_WORDS = {
    **{role.replace("_", ""): role for role in ROLES},
    "nhanvien": "sales",
    "kinhdoanh": "sales",
    "nvkd": "sales",
    "truongphong": "sales_head",
    "truongkd": "sales_head",
    "truongphongkinhdoanh": "sales_head",
    "ketoan": "accountant",
    "ketoantruong": "chief_accountant",
    "truongketoan": "chief_accountant",
    "kho": "warehouse",
    "thukho": "warehouse",
    "vanchuyen": "shipping",
    "giaohang": "shipping",
    "quantri": "admin",
}
ACTIONS = {
    "list": "list",
    "ds": "list",
    "danhsach": "list",
    "add": "add",
    "them": "add",
    "role": "role",
    "vaitro": "role",
    "doivaitro": "role",
    "set": "role",
    "remove": "remove",
    "xoa": "remove",
    "delete": "remove",
    "reload": "reload",
    "tailai": "reload",
}


@dataclass(frozen=True)
class StaffArgs:
    action: str
    user_id: str | None = None
    role: str | None = None
    name: str | None = None


def _role(word: str) -> str:
    role = ROLE_WORDS.get(fold(word).replace("_", "").replace("-", ""))
    if role is None:
        raise UsageError("staff_bad_role", word=word)
    return role


def _user_id(word: str) -> str:
    ident = word.strip().lstrip("@")
    if not ident.isdecimal():
        raise UsageError("staff_bad_id", word=word)
    return within(ident, 64, "zalo_id")


def parse_staff(raw: str) -> StaffArgs:
    tokens = raw.split()
    if not tokens:
        return StaffArgs("list")
    action = ACTIONS.get(fold(tokens[0]))
    if action is None:
        raise UsageError("staff_bad_action", action=tokens[0])
    rest = tokens[1:]
    if action in ("list", "reload"):
        return StaffArgs(action)
    if action == "remove" and len(rest) == 1:
        return StaffArgs(action, user_id=_user_id(rest[0]))
    if action == "role" and len(rest) == 2:
        return StaffArgs(action, user_id=_user_id(rest[0]), role=_role(rest[1]))
    if action == "add" and len(rest) >= 3:
        return StaffArgs(
            action,
            user_id=_user_id(rest[0]),
            role=_role(rest[1]),
            name=within(" ".join(rest[2:]), 200, "name"),
        )
    raise UsageError("staff_wrong_count")


@command("staff", aliases=("nhanvien", "nv"), parse=parse_staff, roles=HEADS, group_only=False)
async def staff(ctx: Context, args: StaffArgs) -> list[Intent]:
    """Run one staff action and answer with its outcome."""
    if args.action == "list":
        return [ctx.reply("staff_list", staff=await repo.list_staff(ctx.db))]
    if args.action == "reload":
        return [ctx.reply("staff_reloaded", **await _reload(ctx))]
    assert args.user_id is not None
    if args.action == "remove":
        removed = await repo.deactivate_staff(
            ctx.db, user_id=args.user_id, source="chat", now=ctx.now
        )
        await _audit(ctx, "staff.removed", args, removed=removed)
        return [ctx.reply("staff_removed", staff_id=args.user_id, removed=removed)]
    current = await repo.get_staff(ctx.db, user_id=args.user_id)
    if ctx.role != "admin" and "admin" in (args.role, current.role if current else None):
        return [
            ctx.reply(
                "denied",
                command="staff",
                typed="nhanvien",
                roles=["admin"],
                role=ctx.role,
                user_id=ctx.sender_id,
            )
        ]
    if args.action == "role" and (current is None or not current.active):
        return [ctx.reply("staff_removed", staff_id=args.user_id, removed=False)]
    name = args.name or (current.name if current else args.user_id)
    saved = await repo.put_staff(
        ctx.db,
        user_id=args.user_id,
        name=name,
        role=args.role or "sales",
        source="chat",
        now=ctx.now,
    )
    await _audit(ctx, f"staff.{args.action}", args, name=saved.name)
    return [ctx.reply("staff_saved", staff_id=saved.zalo_user_id, name=saved.name, role=saved.role)]


async def _reload(ctx: Context) -> dict[str, object]:
    try:
        rows = read_staff_file(ctx.settings.staff_file, missing_ok=False)
    except (StaffFileError, OSError) as exc:
        return {"error": str(exc)}
    counts = await repo.sync_staff_file(ctx.db, rows=rows, now=ctx.now)
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action="staff.reloaded",
        group_id=ctx.event.group_id,
        **counts,
    )
    return {"error": None, **counts}


async def _audit(ctx: Context, action: str, args: StaffArgs, **detail: object) -> None:
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action=action,
        group_id=ctx.event.group_id,
        user_id=args.user_id,
        role=args.role,
        **detail,
    )
