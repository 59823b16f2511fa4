"""A normal stop (SIGTERM) logs no error (issue #15: a stop sometimes logged an ERROR
traceback, a deadline sweep cancelled while it waited for the lock the stop held)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.zalo.payloads import group_message, signed
from config.settings import LOCAL_APP_ID, LOCAL_OA_SECRET_KEY
from tests.helpers.service import Process, free_port, service_env
from tests.support import SALES


@pytest.mark.parametrize("busy_for", [0.0, 0.3, 0.7])
def test_sigterm_in_the_middle_of_work_stops_cleanly(
    tmp_path: Path, database_url: str, busy_for: float
) -> None:
    env = service_env(tmp_path, free_port(), DATABASE_URL=database_url, WEBHOOK_RATE_LIMIT="0")
    env["TEST_OUTBOX_LEASE"] = "15"
    process = Process(env, tmp_path)
    process.start()
    try:
        for n in range(8):
            body = group_message(
                group_id=f"stop-{n % 3}",
                sender_id=SALES,
                text=f"/ghichu goi cuộc gọi {n}",
                at=datetime.now(UTC),
                app_id=LOCAL_APP_ID,
                msg_id=f"stop-{n}-{time.time_ns()}",
            )
            raw, headers = signed(body, app_id=LOCAL_APP_ID, secret=LOCAL_OA_SECRET_KEY)
            assert process.post(raw, headers) == 200
        time.sleep(busy_for)  # stop at different moments of the work, not waiting for a deadline
    finally:
        process.stop()
    assert process.proc is not None and process.proc.returncode == 0
    log = (tmp_path / f"stderr-{process.runs}.log").read_text(errors="replace")
    assert "ERROR" not in log and "Traceback" not in log, log[-3000:]
