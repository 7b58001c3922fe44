"""The message list as a person reads it, in real Chromium (issue 12): a room imported with old times shows day
separators ("Yesterday", a date, "Today") and relative times; one person's messages group until five minutes pass
between them; each person's avatar has a colour of its own and Claude's reply its own mark; an empty room invites
the first message and stops once there is one."""
from __future__ import annotations

import datetime
import json
import time
import urllib.request
from typing import Any

import pytest
from browser_support import USER_AGENT, AppProcess, open_room, send
from playwright.sync_api import Browser

from chat.bench.fake_anthropic import FakeAnthropic

pytestmark = pytest.mark.browser
DAY = 86400

SEEN_JS = '''els => els.map((e) => ({
  text: e.querySelector('[data-testid=message-content]').textContent.trim(),
  day: e.dataset.day || null, grouped: e.dataset.grouped === 'true',
  time: e.querySelector('.msg-time')?.textContent.trim() || null,
  avatar: getComputedStyle(e.querySelector('.msg-avatar')).backgroundColor,
  claude: e.querySelector('.msg-avatar-claude') !== null,
  initials: e.querySelector('.msg-avatar').textContent.trim(),
  separator: getComputedStyle(e, '::before').content,
}))'''


def test_old_messages_show_day_separators_relative_times_groups_and_avatars(app: AppProcess,
                                                                              browser: Browser) -> None:
    now = time.time()
    five_days_ago = datetime.datetime.fromtimestamp(now - 5 * DAY)
    messages = [  # (text, role, author, created_at)
        ('Planning the trip', 'user', 'Ann', now - 5 * DAY),
        ('Here is a plan.', 'assistant', None, now - 5 * DAY + 20),
        ('Back again', 'user', 'Bob', now - DAY),
        ('A minute later', 'user', 'Bob', now - DAY + 60),
        ('Five minutes and a second later', 'user', 'Bob', now - DAY + 60 + 301),
        ('Two minutes ago', 'user', 'Ann', now - 150),
        ('Soon after', 'user', 'Ann', now - 100),
    ]
    room = import_room(app, messages)
    context = browser.new_context(viewport={'width': 1280, 'height': 800}, locale='en-US')
    page = open_room(context, f'{app.url}/room/{room}')
    page.wait_for_selector('[data-testid=message][data-grouped=true]')
    assert not page.locator('[data-testid=empty-room]').is_visible(), 'a room with messages invites no one to start'
    seen = page.eval_on_selector_all('.messages > [data-testid=message]', SEEN_JS)
    assert [m['text'] for m in seen] == [text for text, *_ in messages]

    dated = seen[0]['day']
    assert dated not in (None, 'Today', 'Yesterday'), seen[0]
    assert five_days_ago.strftime('%B') in dated and str(five_days_ago.day) in dated, dated
    assert seen[0]['separator'] == f'"{dated}"', 'the separator shows the day'
    assert [m['day'] for m in seen[1:]] == [None, 'Yesterday', None, None, 'Today', None]

    assert [m['grouped'] for m in seen] == [False, False, False, True, False, False, True], \
        "one person's messages group while they follow within five minutes; a new day or a reply starts anew"
    assert seen[5]['time'] == '2 min ago'
    assert seen[2]['time'] is not None and 'ago' not in seen[2]['time'], 'an older time is a clock time'
    title = page.locator('.messages > [data-testid=message]').nth(2).locator('.msg-time').get_attribute('title')
    assert title is not None and str(datetime.datetime.fromtimestamp(now - DAY).year) in title

    ann, claude, bob = seen[0], seen[1], seen[2]
    assert (ann['initials'], bob['initials']) == ('A', 'B')
    assert ann['avatar'] != bob['avatar'], 'two people, two colours'
    assert ann['avatar'] == seen[5]['avatar'], 'one person keeps one colour'
    assert claude['claude'] and not ann['claude'] and not bob['claude'], "Claude's reply has its own mark"
    assert claude['initials'] != 'C' and claude['avatar'] not in (ann['avatar'], bob['avatar'])
    assert page.page_errors == []  # type: ignore[attr-defined]
    context.close()


def test_an_empty_room_invites_the_first_message_until_it_is_sent(app: AppProcess, fake: FakeAnthropic,
                                                                  browser: Browser) -> None:
    context = browser.new_context(viewport={'width': 390, 'height': 844})
    page = open_room(context, f'{app.url}/room/invitation')
    invitation = page.locator('[data-testid=empty-room]')
    assert invitation.is_visible() and 'Start the conversation' in invitation.inner_text()
    fake.enqueue_text(['Welcome.'])
    send(page, 'The first message')
    invitation.wait_for(state='hidden')
    page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=complete]')
    assert not invitation.is_visible()
    page.reload()
    page.wait_for_selector('[data-testid=connection][data-state=live]')
    assert not page.locator('[data-testid=empty-room]').is_visible(), 'nor when the room is opened again'
    context.close()


# helpers ---------------------------------------------------------------------------------------------------------

def import_room(app: AppProcess, messages: list[tuple[str, str, str | None, float]]) -> str:
    """A room imported through the API from an export whose messages were written at the given times."""
    records = [{'id': f'm{seq}', 'seq': seq, 'role': role, 'content': text, 'status': 'complete',
                'created_at': created, 'author': author, 'model': 'claude-test' if role == 'assistant' else None,
                'error': None} for seq, (text, role, author, created) in enumerate(messages, start=1)]
    export: dict[str, Any] = {'format': 'rooms-export', 'version': 1, 'room': 'old', 'title': 'Old times',
                              'exported_at': time.time(), 'messages': records}
    request = urllib.request.Request(f'{app.url}/api/rooms/import', method='POST', data=json.dumps(export).encode(),
                                     headers={'Content-Type': 'application/json', 'User-Agent': USER_AGENT})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())['room']
