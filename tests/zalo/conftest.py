"""Fixtures of the Zalo boundary's tests: Zalo's HTTP API faked with respx, and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx


@pytest.fixture
def zalo() -> Iterator[respx.MockRouter]:
    with respx.mock() as router:
        yield router


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client
