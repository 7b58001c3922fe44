"""Shared fixtures: settings on a temp data dir, a scripted fake model, and the end-to-end app, API fake and browser."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_support import AppProcess, chromium, running_app
from fastapi import FastAPI
from playwright.sync_api import Browser

from chat import api, room_api
from chat.bench.fake_anthropic import FakeAnthropic
from chat.config import Settings, prepare_data_dir
from chat.errors import ModelError
from chat.hub import RoomHub
from chat.links import RoomLinks
from chat.llm import Claude
from chat.rooms import Rooms
from chat.store import RoomStore
from chat.turns import Turn


@dataclass
class ScriptedModel:
    """A ChatModel that plays scripted replies and records what it was asked (like simonw/llm's mock model)."""

    name: str = 'scripted'
    delay: float = 0.0
    replies: list[list[str | Exception]] = field(default_factory=list)
    asked: list[list[Turn]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    """When set, each reply waits for the gate after its first chunk (lets tests act mid-reply)."""

    def enqueue(self, *chunks: str | Exception) -> None:
        self.replies.append(list(chunks))

    async def stream(self, turns: Sequence[Turn], system: str, **hooks: object) -> AsyncIterator[str]:
        self.asked.append(list(turns))
        chunks = self.replies.pop(0) if self.replies else [f'echo {turns[-1].content}']
        for index, chunk in enumerate(chunks):
            if self.delay:
                await asyncio.sleep(self.delay)
            if isinstance(chunk, Exception):
                raise chunk
            yield chunk
            if index == 0 and self.gate is not None:
                await self.gate.wait()


@asynccontextmanager
async def api_client(rooms: Rooms, settings: Settings, data_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The JSON API of `rooms` (api.py and room_api.py, without pages or access checks), in process."""
    app = FastAPI()
    api.register(app, rooms)

    async def renew(room_id: str) -> None:
        pass
    room_api.register(app, rooms, RoomLinks(data_dir), settings, renew=renew)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        yield client


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    return prepare_data_dir(settings.data_dir)


@pytest.fixture
async def rooms(settings: Settings, model: ScriptedModel, data_dir: Path) -> AsyncIterator[Rooms]:
    """Rooms on the settings' data dir that answer with the scripted model (a module may define its own `rooms`)."""
    registry = Rooms(RoomStore(data_dir), lambda _name: model, settings)
    yield registry
    await registry.close()


@pytest.fixture
async def http(rooms: Rooms, settings: Settings, data_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The JSON API of `rooms`, in process."""
    async with api_client(rooms, settings, data_dir) as client:
        yield client


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / 'data', model='demo', checkpoint_interval=0.05, demo_delay=0.001)


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()


async def wait_idle(hub: RoomHub, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while hub._worker is not None:
        assert time.monotonic() < deadline, 'the hub never finished its turns'
        await asyncio.sleep(0.005)
    await hub.flush()


@pytest.fixture
async def app_users(settings: Settings) -> AsyncIterator[Any]:
    """The real app in NiceGUI's user simulation (test_room_users.simulated_app): (rooms, a factory of users)."""
    from test_room_users import simulated_app  # a test module: imported when the fixture runs, not at collection
    async with simulated_app(replace(settings, demo_delay=0.002)) as result:
        yield result


# Claude through the real SDK against the fake API, in the test's own event loop.
CLAUDE_MODEL = 'claude-sonnet-5-5'


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeAnthropic]:
    """The fake Anthropic API (a module may define its own, e.g. with models that cannot think)."""
    async with FakeAnthropic() as server:
        yield server


@pytest.fixture
async def claude(fake_api: FakeAnthropic) -> AsyncIterator[Claude]:
    """Claude on `fake_api`, without retries (a test scripts the refused tries it wants)."""
    model = Claude(CLAUDE_MODEL, api_key='sk-test', base_url=fake_api.base_url, max_retries=0, timeout=30)
    yield model
    await model.close()


def claude_rooms(data_dir: Path, claude: Claude, fake_api: FakeAnthropic) -> Rooms:
    """Rooms on `data_dir` that answer with `claude`, checkpointing a streaming reply at once (a reopened registry,
    as after a crash, finds it)."""
    settings = Settings(data_dir=data_dir, model=CLAUDE_MODEL, api_key='sk-test', base_url=fake_api.base_url,
                        checkpoint_interval=0.01)
    return Rooms(RoomStore(data_dir), lambda _name: claude, settings)


# Module-scoped fixtures of the end-to-end tests (a module may define its own of the same name instead).
@pytest.fixture(scope='module')
def fake() -> Iterator[FakeAnthropic]:
    """A loopback fake of the Anthropic API, in its own thread."""
    with FakeAnthropic.in_thread() as server:
        yield server


@pytest.fixture(scope='module')
def app(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """`python main.py` talking to the fake API, on a fresh data dir."""
    env = {'ANTHROPIC_API_KEY': 'sk-test-secret', 'ANTHROPIC_BASE_URL': fake.base_url}
    with running_app(tmp_path_factory.mktemp('e2e') / 'data', env=env) as process:
        yield process


@pytest.fixture(scope='module')
def browser() -> Iterator[Browser]:
    with chromium() as instance:
        yield instance


__all__ = ['ModelError', 'ScriptedModel', 'wait_idle']
