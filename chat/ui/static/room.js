// Browser-side helpers of every page: connection state and a scroll follower that does not fight the reader.
(() => {
  function setConnection(state, text) {
    for (const el of document.querySelectorAll('[data-testid=connection]')) {
      el.setAttribute('data-state', state);
      const label = el.querySelector('.conn-text');
      if (label) label.textContent = text;
    }
  }
  function watchSocket() {
    if (!window.socket) return setTimeout(watchSocket, 50);
    if (window.socket.connected) setConnection('live', 'Live');
    window.socket.on('connect', () => setConnection('live', 'Live'));
    window.socket.on('disconnect', () => setConnection('reconnecting', 'Reconnecting…'));
    window.socket.io.on('reconnect_attempt', () => setConnection('reconnecting', 'Reconnecting…'));
  }
  watchSocket();

  // Follow new text only while the reader is at the bottom; scrolling up pauses it, scrolling back resumes it.
  let following = true;
  const nearBottom = () => window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  window.addEventListener('scroll', () => { following = nearBottom(); }, { passive: true });
  function follow() {
    if (following) window.scrollTo({ top: document.body.scrollHeight });
  }
  document.addEventListener('rooms:rendered', follow);
  new ResizeObserver(follow).observe(document.body);
  window.roomsScrollToEnd = () => { following = true; follow(); };
})();

// Copy text even on plain-http LAN pages, where navigator.clipboard does not exist.
window.roomsCopy = async (text) => {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = Object.assign(document.createElement('textarea'), { value: text });
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
};

// Theme: follows the system until the person picks one; the choice is remembered by this browser.
(() => {
  const order = ['auto', 'dark', 'light'];
  const apply = (mode) => window.Quasar?.Dark.set(mode === 'auto' ? 'auto' : mode === 'dark');
  function applySaved() {
    if (!window.Quasar || !window.socket) return setTimeout(applySaved, 30);  // after NiceGUI set its default
    apply(localStorage.getItem('rooms-theme') || 'auto');
  }
  applySaved();
  window.roomsCycleTheme = () => {
    const next = order[(order.indexOf(localStorage.getItem('rooms-theme') || 'auto') + 1) % order.length];
    localStorage.setItem('rooms-theme', next);
    apply(next);
  };
})();

// Keyboard shortcuts (listed in the header's keyboard dialog).
document.addEventListener('keydown', (event) => {
  const typing = event.target.closest?.('textarea, input, [contenteditable=true]');
  const click = (testid) => document.querySelector(`[data-testid=${testid}]:not(.hidden)`)?.click();
  if (event.key === 'Escape') {
    click('stop');
  } else if (event.altKey && event.key.toLowerCase() === 'n') {
    event.preventDefault();
    window.location.href = '/room/' + Math.random().toString(36).slice(2, 12);
  } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k') {
    event.preventDefault();
    const search = document.querySelector('[data-testid=search] input, input[data-testid=search]');
    if (search) search.focus();
    else window.location.href = '/#search';
  } else if (!typing && event.key === '/') {
    event.preventDefault();
    document.querySelector('[data-testid=composer] textarea, textarea[data-testid=composer]')?.focus();
  } else if (!typing && event.key === '?') {
    click('shortcuts');
  }
});
