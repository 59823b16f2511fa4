"""/vangmat (/away) with a backup (issue #18): while a staff member is away, the bot's 1:1
reminders and alerts for them go to the backup, or to the heads when none is named, with a
note saying for whom; replies to their own commands still reach them; /vangmat het ends it;
the directory shows the away period."""

from __future__ import annotations

from storage.models import AuditEntry, Staff
from tests.helpers.sla import alerts_to, at, rows, setup_group, vn
from tests.helpers.web import sign_in
from tests.support import CUSTOMER, HEAD, SALES, SALES2, Bot


async def _staff(bot: Bot, user_id: str) -> Staff:
    [person] = [s for s in await rows(bot, Staff) if s.zalo_user_id == user_id]
    return person


async def test_away_until_a_date_sends_the_reminders_to_the_backup(bot: Bot) -> None:
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 8, 30))
    await bot.say("/vangmat 25/11 Trần Thị Bình")
    person = await _staff(bot, SALES)
    assert person.away_until == vn(2026, 11, 25, 23, 59) and person.away_backup == SALES2
    [answer] = await bot.outbox(purpose="away_set")
    assert (answer.target_kind, answer.target_id) == ("user", SALES)  # not in the group
    assert "vắng mặt đến 23:59 25/11/2026" in answer.text and "Trần Thị Bình" in answer.text
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Cho em hỏi giá lô 500 thùng?", sender=CUSTOMER)
    await at(bot, vn(2026, 11, 23, 9, 10))
    assert [t for t in await alerts_to(bot, SALES) if "Nhắc phản hồi" in t] == []
    [reminder] = await alerts_to(bot, SALES2)
    assert reminder.startswith("↪ Chuyển thay Nguyễn Văn An (vắng mặt đến 23:59 25/11/2026)")
    assert "Nhắc phản hồi" in reminder
    actions = [a.action for a in await rows(bot, AuditEntry) if a.action.startswith("staff.")]
    assert "staff.away" in actions


async def test_without_a_backup_the_heads_stand_in_and_back_ends_it(bot: Bot) -> None:
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 8, 30))
    await bot.dm("/vangmat mai 12h")
    person = await _staff(bot, SALES)
    assert person.away_until == vn(2026, 11, 24, 12, 0) and person.away_backup is None
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Có hàng không ạ?", sender=CUSTOMER)
    await at(bot, vn(2026, 11, 23, 9, 10))
    assert [t for t in await alerts_to(bot, HEAD) if "Chuyển thay Nguyễn Văn An" in t]
    await bot.say("Dạ còn hàng ạ", sender=SALES)
    await bot.dm("/vangmat het")
    assert (await _staff(bot, SALES)).away_until is None
    assert "trở lại" in await bot.last_text()
    await at(bot, vn(2026, 11, 23, 10, 0))
    await bot.say("Giá bao nhiêu em?", sender=CUSTOMER)
    await at(bot, vn(2026, 11, 23, 10, 10))
    assert [t for t in await alerts_to(bot, SALES) if "Nhắc phản hồi" in t]


async def test_a_reply_to_the_away_persons_own_command_reaches_them(bot: Bot) -> None:
    await at(bot, vn(2026, 11, 23, 8, 30))
    await bot.dm("/vangmat 25/11")
    await bot.dm("/toilaai")
    mine = await alerts_to(bot, SALES)
    assert len(mine) == 2 and not [t for t in mine if "Chuyển thay" in t]


async def test_bad_away_commands_say_why(bot: Bot) -> None:
    await at(bot, vn(2026, 11, 23, 8, 30))
    await bot.dm("/vangmat")
    assert "đến khi nào" in await bot.last_text()
    await bot.dm("/vangmat 25/11 Không Có Ai")
    assert "Không Có Ai" in await bot.last_text()
    await bot.dm("/vangmat hom qua")
    assert "đã qua" in await bot.last_text()
    await bot.dm("/vangmat 25/11 Nguyễn Văn An")
    assert "người khác" in await bot.last_text()
    assert (await _staff(bot, SALES)).away_until is None


async def test_the_directory_shows_who_is_away(bot: Bot) -> None:
    await at(bot, vn(2026, 11, 23, 8, 30))
    await bot.dm("/away 25/11 Trần Thị Bình")
    sign_in(bot, HEAD)
    html = await (await bot.client.get("/dashboard/directory")).text()
    assert "Vắng mặt đến" in html and "25/11/2026" in html and "Người thay:" in html


async def test_english(make_bot, settings) -> None:  # type: ignore[no-untyped-def]
    bot = await make_bot(settings.replace(locale="en"))
    await at(bot, vn(2026, 11, 23, 8, 30))
    await bot.dm("/away 25/11")
    assert "is away until 23:59 25/11/2026" in await bot.last_text()
    assert "the sales heads" in await bot.last_text()


async def test_a_link_for_the_away_person_stays_theirs_beside_a_redirected_alert(bot: Bot) -> None:
    from bot.core import standins as away
    from bot.core.intents import SendUser

    await at(bot, vn(2026, 11, 23, 8, 30))
    await bot.dm("/vangmat 25/11 Trần Thị Bình")
    intents = [SendUser(SALES, "sla_reminder", {}), SendUser(SALES, "login_link", {})]
    async with bot.runtime.sessions() as db:
        routed = await away.redirect(db, intents, bot.clock.now())
    assert [(i.user_id, i.template, note is not None) for i, note in routed] == [
        (SALES2, "sla_reminder", True),
        (SALES, "login_link", False),
    ]
