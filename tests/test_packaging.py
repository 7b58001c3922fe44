"""`pip install .` gives a working app: the wheel carries every static file, and `rooms` serves from a fresh venv.

The fresh venv borrows its dependencies from this one instead of downloading them: a .pth file names this venv's
site-packages as a plain path line, so the .pth files in there (among them the editable-install hook that maps
`chat` to the checkout) are not run, and `chat` can only come from the installed wheel.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from html.parser import HTMLParser
from importlib.metadata import packages_distributions
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from browser_support import ROOT, USER_AGENT, free_port

from chat.bench.app import stop_process

CHAT = ROOT / 'chat'
"""NiceGUI answers Markdown instead of HTML to a User-Agent that looks like a bot."""
OPTIONS = ('--host', '--port', '--data-dir', '--model', '--share', '--token', '--native', '--no-browser')


def clean_env() -> dict[str, str]:
    """Without pytest's variables (they put NiceGUI in test mode), the app's settings or a PYTHONPATH to here."""
    dropped = ('ANTHROPIC_', 'CHAT_', 'PYTEST_', 'NICEGUI_', 'PYTHONPATH')
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped)}


def run(*command: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=clean_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f'{command} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}'
    return result.stdout


@pytest.fixture(scope='module')
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip install .` builds, built from a copy of the checkout (in place it would leave build/ behind)."""
    source = tmp_path_factory.mktemp('source')
    for path in ROOT.iterdir():
        if path.is_file():
            shutil.copy2(path, source)
    shutil.copytree(CHAT, source / 'chat', ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    out = tmp_path_factory.mktemp('wheel')
    run(sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', '--no-index', source,
        '-w', out)
    [built] = out.glob('rooms-*.whl')
    return built


@pytest.fixture(scope='module')
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp('fresh') / 'venv'
    run(sys.executable, '-m', 'venv', '--without-pip', venv)
    python = venv / 'bin' / 'python'
    # this venv's pip installs into the fresh one before the .pth exists, so it never sees (or uninstalls) our `rooms`
    run(sys.executable, '-m', 'pip', '--python', python, 'install', '-q', '--no-deps', '--no-index', wheel)
    site_packages = Path(run(python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))').strip())
    ours = dict.fromkeys([sysconfig.get_path('purelib'), sysconfig.get_path('platlib')])
    (site_packages / 'borrowed-dependencies.pth').write_text(''.join(f'{path}\n' for path in ours))
    return venv


def test_the_wheel_carries_every_module_static_file_and_vendored_script(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith('.dist-info/entry_points.txt'))
    ui = CHAT / 'ui'
    wanted = [*CHAT.rglob('*.py'), *CHAT.rglob('*.js'), *CHAT.rglob('*.css'), *(ui / 'static').rglob('*'),
              *(ui / 'lib').rglob('*')]
    expected = {p.relative_to(ROOT).as_posix() for p in wanted if p.is_file() and '__pycache__' not in p.parts}
    assert {'chat/ui/static/tailwind.css', 'chat/ui/lib/katex.js', 'chat/ui/message_body.js',
            'chat/ui/markdown.js', 'chat/ui/lib/README.md'} <= expected
    assert sorted(expected - names) == []
    assert re.search(r'^rooms = chat\.cli:run$', entry_points, re.MULTILINE), entry_points


@pytest.mark.parametrize('command', [['rooms'], ['python', '-m', 'chat']], ids=['rooms', 'python-m-chat'])
def test_the_installed_commands_take_the_options_of_main_py(command: list[str], fresh_venv: Path,
                                                            tmp_path: Path) -> None:
    usage = run(fresh_venv / 'bin' / command[0], *command[1:], '--help', cwd=tmp_path)
    assert all(option in usage for option in OPTIONS), usage


def test_rooms_from_a_fresh_venv_serves_its_pages_and_every_asset_they_reference(fresh_venv: Path,
                                                                                  tmp_path: Path) -> None:
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    located = run(fresh_venv / 'bin' / 'python', '-c', 'import chat.cli; print(chat.cli.__file__)', cwd=elsewhere)
    assert Path(located.strip()).resolve().is_relative_to(fresh_venv.resolve()), located
    port = free_port()
    base = f'http://127.0.0.1:{port}'
    log_path = tmp_path / 'rooms.log'
    with open(log_path, 'w') as log:
        process = subprocess.Popen([fresh_venv / 'bin' / 'rooms', '--port', str(port), '--data-dir', tmp_path / 'data',
                                    '--no-browser', '--model', 'demo'], cwd=elsewhere, env=clean_env(), stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            wait_healthy(process, base, log_path)
            failures = {}
            for page in ('/', '/room/packaging'):
                status, body = get(base + page)
                assert status == 200 and b'<html' in body, (page, status, body[:300])
                for url in same_origin_assets(body.decode(), base + page):
                    status, content = get(url)
                    if status != 200 or not content:
                        failures[url] = status
            assert failures == {}
        finally:
            stop_process(process)
    output = log_path.read_text()
    assert 'Rooms is running at' in output and 'Traceback' not in output, output


def wait_healthy(process: subprocess.Popen[bytes], base: str, log_path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f'rooms exited with {process.returncode}: {log_path.read_text()}'
        if get(f'{base}/healthz')[0] == 200:
            return
        time.sleep(0.1)
    raise TimeoutError(f'rooms did not start: {log_path.read_text()}')


def get(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={'User-Agent': USER_AGENT, 'Accept': 'text/html,*/*'})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, b''
    except OSError:
        return 0, b''


class _Assets(HTMLParser):
    """Every `src` and `href`, and the modules of the import map (where the vendored scripts are)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_import_map = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [value for name, value in attrs if name in {'src', 'href'} and value]
        self._in_import_map = tag == 'script' and values.get('type') == 'importmap'

    def handle_endtag(self, tag: str) -> None:
        self._in_import_map = False

    def handle_data(self, data: str) -> None:
        if self._in_import_map:
            self.urls += [url for url in json.loads(data).get('imports', {}).values() if not url.endswith('/')]


def same_origin_assets(html: str, page_url: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    origin = urlsplit(page_url).netloc
    urls = {urljoin(page_url, url) for url in parser.urls}
    found = sorted(url for url in urls if urlsplit(url).scheme == 'http' and urlsplit(url).netloc == origin)
    assert any('/rooms-static/' in url for url in found) and any('/_nicegui/' in url for url in found), found
    return found


def requirement_names(requirements: list[str]) -> set[str]:
    return {normalise(re.match(r'[A-Za-z0-9][A-Za-z0-9._-]*', r).group()) for r in requirements}  # type: ignore[union-attr]


def normalise(distribution: str) -> str:
    return re.sub(r'[-_.]+', '-', distribution).lower()


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the absolute imports of a module, including those inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split('.')[0])
    return found


def test_every_third_party_import_of_the_product_is_declared() -> None:
    project = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']
    required = requirement_names(project['dependencies'])
    bench = required | requirement_names(project['optional-dependencies']['bench'])
    local = {'chat'} | {p.stem for p in [*ROOT.glob('*.py'), *(ROOT / 'tests').glob('*.py')]}
    distributions = packages_distributions()
    undeclared = []
    for path in sorted(CHAT.rglob('*.py')):
        declared = bench if path.relative_to(CHAT).parts[0].startswith('bench') else required
        for module in sorted(imported_modules(path) - set(sys.stdlib_module_names) - local):
            names = {normalise(d) for d in distributions.get(module, [module])}
            if not names & declared:
                undeclared.append(f'{path.relative_to(ROOT)}: {module} ({", ".join(sorted(names))})')
    assert undeclared == []
