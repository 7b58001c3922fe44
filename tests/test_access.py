"""The access token (CONTRACT.md "Access token"), in real HTTP against `python main.py --token T` and in Chromium."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import nicegui
import pytest
from browser_support import AppProcess, chromium, running_app, send
from playwright.sync_api import Browser, Page, Response, WebSocket

from chat.bench.fake_anthropic import FakeAnthropic

TOKEN = 'T0ken-for-tests_0123456789'
KEY = 'sk-secret-XYZ'
COOKIE = 'rooms_access_{port}'
SOCKET_POLL = '/_nicegui_ws/socket.io/?EIO=4&transport=polling'
PAGES = ['/', '/room/guarded', '/room/a.b', '/no-such-page']
API = ['/api/rooms', '/api/rooms/guarded/messages', '/api/rooms/guarded/export.md', '/api/rooms/nothing/messages']
ASSETS = [f'/_nicegui/{nicegui.__version__}/static/nicegui.css', '/rooms-static/room.js']


@pytest.fixture(scope='module')
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    with running_app(tmp_path_factory.mktemp('access') / 'data', '--token', TOKEN, '--model', 'demo') as process:
        yield process


@pytest.fixture
def http(app: AppProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.url, follow_redirects=False, timeout=10) as client:
        yield client


def cookie_of(app: AppProcess, http: httpx.Client) -> str:
    response = http.get(f'/?token={TOKEN}')
    assert response.status_code == 303
    return response.cookies[COOKIE.format(port=app.port)]


@pytest.mark.parametrize('path', PAGES + API + ASSETS + [SOCKET_POLL])
def test_every_route_refuses_a_missing_or_wrong_token(http: httpx.Client, app: AppProcess, path: str) -> None:
    name = COOKIE.format(port=app.port)
    refusals = [
        http.get(path),
        http.get(path, headers={'Authorization': 'Bearer wrong-token-0123456789'}),
        http.get(path, headers={'Authorization': f'Basic {TOKEN}'}),
        http.get(path, headers={'Cookie': f'{name}=not-the-cookie'}),
        http.get(path, headers={'Cookie': f'{name}={TOKEN}'}),  # the cookie holds a derived value, not the token
        http.get(path + ('&' if '?' in path else '?') + 'token=wrong-token-0123456789'),
        http.get(path + ('&' if '?' in path else '?') + f'token={TOKEN[:-1]}'),
    ]
    for response in refusals:
        assert response.status_code == 401, (path, response.request.headers, response.text[:200])
        assert 'set-cookie' not in response.headers
        assert TOKEN not in response.text
        if path.startswith(('/api/', '/_nicegui')):
            assert response.headers['content-type'].startswith('application/json')
            assert 'token' in response.json()['error']
        else:
            assert response.headers['content-type'].startswith('text/html')
            assert 'Token required' in response.text and '?token=' in response.text
            assert 'ask whoever started rooms' in response.text.lower()


@pytest.mark.parametrize('path', PAGES + API + ASSETS)
def test_token_in_the_url_sets_a_cookie_and_redirects_without_it(http: httpx.Client, app: AppProcess,
                                                                  path: str) -> None:
    response = http.get(f'{path}?lang=en&token={TOKEN}&x=1')
    assert response.status_code == 303
    assert response.headers['location'] == f'{path}?lang=en&x=1'
    set_cookie = response.headers['set-cookie']
    name = COOKIE.format(port=app.port)
    assert set_cookie.startswith(f'{name}=') and TOKEN not in set_cookie
    flags = {part.strip().lower() for part in set_cookie.split(';')[1:]}
    assert {'httponly', 'samesite=lax', 'path=/'} <= flags
    assert http.get(f'{path}?token={TOKEN}').headers['location'] == path


def test_cookie_and_bearer_let_every_route_through(http: httpx.Client, app: AppProcess) -> None:
    cookie = {'Cookie': f'{COOKIE.format(port=app.port)}={cookie_of(app, http)}'}
    bearer = {'Authorization': f'Bearer {TOKEN}'}
    for headers in (cookie, bearer):
        assert http.get('/', headers=headers).status_code == 200
        assert http.get('/room/guarded', headers=headers).status_code == 200
        assert http.get('/room/a.b', headers=headers).status_code == 404
        assert http.get('/api/rooms', headers=headers).json() == {'rooms': []}
        missing = http.get('/api/rooms/guarded/messages', headers=headers)
        assert missing.status_code == 404 and 'does not exist' in missing.json()['error']
        assert http.get('/api/rooms/guarded/export.md', headers=headers).status_code == 404
        for asset in ASSETS:
            assert http.get(asset, headers=headers).status_code == 200, asset
        poll = http.get(SOCKET_POLL, headers=headers)
        assert poll.status_code == 200 and poll.text.startswith('0{"sid"')


def test_healthz_stays_open_and_says_nothing_else(http: httpx.Client) -> None:
    response = http.get('/healthz')
    assert response.status_code == 200 and response.json() == {'status': 'ok'}


def test_websocket_needs_the_cookie_and_a_rooms_page_origin(http: httpx.Client, app: AppProcess) -> None:
    cookie = f'{COOKIE.format(port=app.port)}={cookie_of(app, http)}'
    host = f'127.0.0.1:{app.port}'
    assert websocket_status(app.port, {}) == 403
    assert websocket_status(app.port, {'Cookie': f'{COOKIE.format(port=app.port)}=wrong'}) == 403
    assert websocket_status(app.port, {'Cookie': cookie, 'Origin': 'http://127.0.0.1:1'}) == 403
    assert websocket_status(app.port, {'Cookie': cookie, 'Origin': f'http://{host}'}) == 101
    assert websocket_status(app.port, {'Authorization': f'Bearer {TOKEN}'}) == 101
    refused = http.get(SOCKET_POLL, headers={'Cookie': cookie, 'Origin': 'http://evil.example'})
    assert refused.status_code == 403  # another site's page: refused before any token check


LOCAL = object()


def websocket_status(port: int, headers: dict[str, str], host: str | object | None = LOCAL) -> int:
    """The status of a raw websocket upgrade of NiceGUI's socket.io endpoint (101 = accepted).

    :param host: the `Host` line (127.0.0.1:port unless given; None: no Host line at all)
    """
    host = f'127.0.0.1:{port}' if host is LOCAL else host
    lines = ['GET /_nicegui_ws/socket.io/?EIO=4&transport=websocket HTTP/1.1',
             *([f'Host: {host}'] if host is not None else []),
             'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
             'Sec-WebSocket-Version: 13', *(f'{k}: {v}' for k, v in headers.items())]
    with socket.create_connection(('127.0.0.1', port), timeout=5) as connection:
        connection.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode())
        status_line = connection.recv(4096).split(b'\r\n', 1)[0].decode()
    return int(status_line.split()[1])


def test_no_token_configured_means_no_check(tmp_path: Path) -> None:
    with running_app(tmp_path / 'data', '--model', 'demo') as open_app, httpx.Client(base_url=open_app.url) as http:
        assert http.get('/').status_code == 200
        assert http.get('/api/rooms').status_code == 200
        assert http.get(SOCKET_POLL).status_code == 200
        assert http.get('/?token=anything-at-all', follow_redirects=False).status_code == 200


# Chromium ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope='module')
def browser() -> Iterator[Browser]:
    with chromium() as instance:
        yield instance


@pytest.mark.browser
def test_browser_with_the_token_link_gets_in_and_the_room_works(app: AppProcess, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f'{app.url}/room/inside?token={TOKEN}')
    assert page.url == f'{app.url}/room/inside'
    page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=10_000)
    answer_name_dialog(page)
    send(page, 'hello behind the token')
    page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=streaming]')
    page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=complete]', timeout=20_000)
    assert 'Demo model' in page.inner_text('[data-testid=message][data-role=assistant]')
    page.goto(f'{app.url}/')  # the cookie keeps working without the token in the URL
    page.wait_for_selector('[data-testid=room-link][data-room-id=inside]')
    cookies = {c['name']: c for c in context.cookies()}
    cookie = cookies[COOKIE.format(port=app.port)]
    assert cookie['httpOnly'] and cookie['sameSite'] == 'Lax'
    assert page.evaluate('document.cookie').find(COOKIE.format(port=app.port)) == -1
    context.close()


@pytest.mark.browser
def test_browser_without_the_token_sees_the_refusal_page(app: AppProcess, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    for url in (f'{app.url}/', f'{app.url}/room/inside', f'{app.url}/room/inside?token=wrong-token-123456'):
        response = page.goto(url)
        assert response is not None and response.status == 401
        assert page.locator('[data-testid=token-required]').is_visible()
        assert 'ask whoever started rooms for the link' in page.inner_text('body').lower()
        assert page.locator('[data-testid=composer]').count() == 0
    context.close()


def answer_name_dialog(page: Page, name: str = 'Tester') -> None:
    """Pick a display name if the room asks for one (a first visit)."""
    dialog = page.locator('[data-testid=name-input]')
    try:
        dialog.wait_for(timeout=5_000)
    except Exception:
        return
    dialog.fill(name)
    page.click('[data-testid=name-save]')
    dialog.wait_for(state='hidden')


# The Anthropic key -------------------------------------------------------------------------------------------


@pytest.fixture(scope='module')
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic.in_thread() as server:
        yield server


@pytest.mark.browser
def test_the_anthropic_key_reaches_no_page_api_answer_or_websocket_frame(
        fake: FakeAnthropic, browser: Browser, tmp_path: Path) -> None:
    env = {'ANTHROPIC_API_KEY': KEY, 'ANTHROPIC_BASE_URL': fake.base_url}
    with running_app(tmp_path / 'data', '--token', TOKEN, env=env) as claude_app:
        seen: list[str] = []
        frames: list[str] = []
        responses: list[Response] = []
        context = browser.new_context()
        page = context.new_page()

        def on_websocket(ws: WebSocket) -> None:
            ws.on('framereceived', lambda payload: frames.append(payload if isinstance(payload, str) else
                                                                 payload.decode('utf-8', 'replace')))
        page.on('websocket', on_websocket)
        page.on('response', lambda response: responses.append(response))
        page.goto(f'{claude_app.url}/room/keyroom?token={TOKEN}')
        page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=10_000)
        answer_name_dialog(page)
        fake.enqueue_text(['The ', 'answer ', 'streams.'], delay=0.05)
        send(page, 'Is the key safe?')
        page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=complete]', timeout=20_000)
        assert 'The answer streams.' in page.inner_text('[data-testid=message][data-role=assistant]')
        seen.append(page.content())
        seen += [_body(response) for response in responses]
        page.goto(f'{claude_app.url}/')
        page.wait_for_selector('[data-testid=room-link][data-room-id=keyroom]')
        seen.append(page.content())
        headers = {'Authorization': f'Bearer {TOKEN}'}
        with httpx.Client(base_url=claude_app.url, headers=headers) as http:
            for path in ('/', '/room/keyroom', '/healthz', '/api/rooms', '/api/rooms/keyroom/messages',
                         '/api/rooms/keyroom/export.md'):
                response = http.get(path)
                assert response.status_code == 200, path
                seen.append(response.text)
        context.close()
        assert KEY not in claude_app.log
    assert fake.request_headers and any(KEY in value for value in fake.request_headers[-1].values()), \
        'the key was not even sent to the model server'
    assert frames, 'no websocket frame was seen'
    assert any('streams' in frame for frame in frames), 'the reply did not come over the websocket'
    assert all(KEY not in text for text in seen + frames)
    assert all('sk-secret' not in text for text in seen + frames)


def _body(response: Response) -> str:
    try:
        return response.body().decode('utf-8', 'replace')
    except Exception:  # redirects and aborted requests have no body
        return ''
