"""The benchmark's browser side: headless Chromium tabs that time every streamed word and count websocket bytes.

Each tab runs a MutationObserver that, whenever the DOM changes, scans the streaming reply's
`[data-testid=message-content]` for new `w<i>@<sent time>` words and records when it first saw each one
(`performance.timeOrigin + performance.now()`, this machine's wall clock in ms). Websocket bytes come from the
DevTools protocol (`Network.webSocketFrameReceived`), summed per tab. Where a tab's time goes comes from the DevTools
`Performance.getMetrics` counters, read before and after a reply (see WHERE).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, sync_playwright

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--no-first-run', '--disable-sync']

WHERE = {
    'script': ('ScriptDuration', 'V8CompileDuration'),
    'style': ('RecalcStyleDuration',),
    'layout': ('LayoutDuration',),
    'paint and other': ('TaskOtherDuration',),
    'main thread': ('ThreadTime',),
    'renderer process': ('ProcessTime',),
}
"""Parts of a tab's time, each a sum of `Performance.getMetrics` counters (seconds). `TaskOtherDuration` is the main
thread's task time that is neither script, style nor layout: mostly paint (and the DOM work outside scripts);
`ThreadTime` is the main thread's CPU time, `ProcessTime` the whole renderer's (with its raster and compositor
threads)."""

OBSERVER_JS = r'''
(() => {
  if (window.__bench) return;
  const WORD = /w(\d+)@(\d+\.\d{6})/g;
  const b = (window.__bench = { exclude: new Set(), seen: {}, count: 0, target: null, scanned: 0, status: null });
  const now = () => performance.timeOrigin + performance.now();
  function check() {
    const t = now();
    let el = b.target;
    if (!el || !el.isConnected) {
      const all = document.querySelectorAll('[data-testid=message][data-role=assistant]');
      const last = all[all.length - 1];
      if (!last || b.exclude.has(last.getAttribute('data-message-id'))) return;
      el = b.target = last;
      b.scanned = 0;
    }
    b.status = el.getAttribute('data-status');
    const content = el.querySelector('[data-testid=message-content]');
    if (!content) return;
    const text = content.textContent;
    WORD.lastIndex = Math.max(0, Math.min(b.scanned, text.length) - 40);  // a word is < 40 chars
    let m;
    while ((m = WORD.exec(text)) !== null) {
      if (!(m[1] in b.seen)) {
        b.seen[m[1]] = t;
        b.count++;
      }
    }
    b.scanned = text.length;
  }
  // When each word first arrived on the socket (any event), to split latency into transport and rendering.
  b.arrived = {};
  (function hook() {
    if (!window.socket) return setTimeout(hook, 20);
    window.socket.onAny((...args) => {
      const t = now();
      const text = JSON.stringify(args);
      if (text.indexOf('@') < 0) return;
      const re = new RegExp(WORD.source, 'g');
      let m;
      while ((m = re.exec(text)) !== null) if (!(m[1] in b.arrived)) b.arrived[m[1]] = t;
    });
  })();
  b.arm = () => {
    const ids = [...document.querySelectorAll('[data-testid=message][data-role=assistant]')];
    b.exclude = new Set(ids.map((e) => e.getAttribute('data-message-id')));
    Object.assign(b, { seen: {}, arrived: {}, count: 0, target: null, scanned: 0, status: null });
  };
  new MutationObserver(check).observe(document, {
    childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ['data-status'],
  });
})();
'''

OPENED_JS = '''(lastId) => {
  const msg = document.querySelector(`[data-message-id="${lastId}"]`);
  const content = msg?.querySelector('[data-testid=message-content]');
  const composer = document.querySelector('textarea[data-testid=composer]');
  if (!msg || !content || !content.textContent.trim() || !composer || composer.disabled) return false;
  if (!window.socket?.connected) return false;  // nothing typed would reach the server yet
  const box = msg.getBoundingClientRect();
  if (box.height === 0 || box.bottom <= 0 || box.top >= window.innerHeight) return false;
  return performance.now();
}'''


class Tab:
    """One browser tab of a room, with its word observer and its websocket byte counter."""

    def __init__(self, browser: Browser, url: str, context: BrowserContext | None = None) -> None:
        """A new tab in a fresh browser profile (empty cache), or in `context` (sharing its cache and cookies)."""
        self._own_context = context is None
        self.context = context or browser.new_context()
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on('pageerror', lambda error: self.errors.append(str(error)))
        self.page.add_init_script(OBSERVER_JS)
        self.loads = 0
        self.loads_when_armed = 0
        """Page loads so far: more than one means the tab reloaded (NiceGUI does so after a lost connection)."""
        self.page.on('load', self._on_load)
        self.received_bytes = 0
        self.frames = 0
        self._cdp: CDPSession = self.context.new_cdp_session(self.page)
        self._cdp.on('Network.webSocketFrameReceived', self._on_frame)
        self._cdp.send('Performance.enable', {'timeDomain': 'threadTicks'})
        self._counting = False
        self.url = url

    def open(self, timeout_ms: float = 30_000) -> None:
        self.page.goto(self.url)
        self.page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=timeout_ms)

    def open_timed(self, last_id: str, timeout_ms: float = 60_000) -> float:
        """Navigate and return ms from navigation start until `last_id` is visible and the composer usable."""
        self.page.goto(self.url, wait_until='commit')
        handle = self.page.wait_for_function(OPENED_JS, arg=last_id, polling='raf', timeout=timeout_ms)
        return float(handle.json_value())

    def arm(self, count_bytes: bool = False) -> None:
        """Forget words seen and bytes counted so far; the next new reply is the one to time.

        :param count_bytes: count websocket bytes during it. DevTools then sends every frame to this process, which
            at many frames a second costs the machine enough CPU to skew latency, so it is off unless asked for.
        """
        if count_bytes != self._counting:
            self._cdp.send('Network.enable' if count_bytes else 'Network.disable')
            self._counting = count_bytes
        self.page.evaluate('window.__bench.arm()')  # also delivers the frame events queued before it
        self.received_bytes = self.frames = 0
        self.loads_when_armed = self.loads

    def metrics(self) -> dict[str, float]:
        """This tab's DevTools performance counters now (seconds for the durations), by the names of WHERE."""
        raw = {m['name']: m['value'] for m in self._cdp.send('Performance.getMetrics')['metrics']}
        return {part: sum(raw.get(name, 0.0) for name in names) for part, names in WHERE.items()}

    def state(self) -> dict[str, Any]:
        return self.page.evaluate('({count: window.__bench.count, status: window.__bench.status})')

    def wait_words(self, count: int, timeout_ms: float) -> bool:
        """Wait until the tab saw `count` words and the reply is no longer streaming; False on timeout."""
        try:
            self.page.wait_for_function(
                '(n) => window.__bench.count >= n && window.__bench.status && window.__bench.status !== "streaming"',
                arg=count, polling=50, timeout=timeout_ms)
            return True
        except Exception:  # playwright's TimeoutError; the caller reports the missing words
            return False

    def seen(self) -> dict[int, float]:
        """Word index -> wall-clock ms when this tab first showed it."""
        return {int(k): float(v) for k, v in self.page.evaluate('window.__bench.seen').items()}

    def arrived(self) -> dict[int, float]:
        """Word index -> wall-clock ms when it first arrived on this tab's socket."""
        return {int(k): float(v) for k, v in self.page.evaluate('window.__bench.arrived').items()}

    def clock_skew_ms(self) -> float:
        """Date.now() minus the observer's clock: how far the page's high-resolution clock is off the wall clock."""
        return float(self.page.evaluate('Date.now() - (performance.timeOrigin + performance.now())'))

    def send(self, text: str) -> None:
        composer = self.page.locator('textarea[data-testid=composer]')
        composer.fill(text)
        composer.press('Enter')

    def close(self) -> None:
        self.page.close()
        if self._own_context:
            self.context.close()

    def _on_load(self, _page: Page) -> None:
        self.loads += 1

    def _on_frame(self, params: dict[str, Any]) -> None:
        self.received_bytes += len(params['response']['payloadData'].encode())
        self.frames += 1


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
