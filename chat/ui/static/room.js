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
  let anchored = null;  // selector of the message a link pointed at (#m-<id>), kept in view while the reader is idle
  const nearBottom = () => window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  window.addEventListener('scroll', () => { following = nearBottom(); }, { passive: true });
  let pending = false;
  function follow() {
    if (pending) return;
    pending = true; // one layout per frame, however many renders and resizes happened in it
    requestAnimationFrame(() => {
      pending = false;
      if (anchored && showAnchor()) return;
      if (following) window.scrollTo({ top: document.body.scrollHeight });
    });
  }
  document.addEventListener('rooms:rendered', follow);
  new ResizeObserver(follow).observe(document.body);
  window.roomsScrollToEnd = () => {
    if (anchored) return;  // the linked message stays in view until the reader acts
    following = true;
    follow();
  };

  // A link to a message (/room/<id>#m-<message id>, e.g. from search) scrolls to it and marks it. The page
  // shows only the latest messages, so earlier ones are loaded until it appears. Until the reader scrolls,
  // clicks or types, it stays in view while the text around it renders.
  function showAnchor() {  // re-queried each time: the page may re-create the element (loading earlier ones)
    const target = document.querySelector(anchored);
    if (!target) return false;
    if (!target.hasAttribute('data-anchored')) {
      for (const old of document.querySelectorAll('[data-anchored]')) old.removeAttribute('data-anchored');
      target.setAttribute('data-anchored', '');
    }
    following = false;
    target.scrollIntoView({ block: 'center' });
    return true;
  }
  function release(toEnd) {
    anchored = null;
    if (toEnd) window.roomsScrollToEnd();
  }
  for (const name of ['wheel', 'touchstart', 'keydown', 'pointerdown']) {
    window.addEventListener(name, () => { if (anchored) release(false); }, { passive: true, capture: true });
  }
  function goToAnchor() {
    if (window.location.hash === '#search') return focusSearch(0);  // Ctrl+K from a page without the field
    const match = /^#m-([A-Za-z0-9_-]{1,64})$/.exec(window.location.hash);
    if (!match) return;
    const selector = anchored = `[data-testid=message][data-message-id="${CSS.escape(match[1])}"]`;
    let waited = 0;
    const look = () => {
      if (anchored !== selector || showAnchor()) return;
      const earlier = document.querySelector('[data-testid=load-earlier]');
      const canLoad = earlier && earlier.offsetParent !== null;
      waited = window.socket && window.socket.connected ? waited + 1 : 0;
      if (canLoad && waited % 5 === 1) earlier.click();
      if (waited > (canLoad ? 300 : 20)) return release(true);  // not in this room: behave as without a link
      setTimeout(look, 100);
    };
    look();
  }
  function focusSearch(tries) {
    const field = document.querySelector('input[data-testid=search], [data-testid=search] input');
    if (field) field.focus();
    else if (tries < 50) setTimeout(() => focusSearch(tries + 1), 100);
  }
  const style = document.createElement('style');
  style.textContent = '[data-anchored] { outline: 3px solid #f0a020; outline-offset: 2px; }';
  document.head.appendChild(style);
  window.addEventListener('hashchange', goToAnchor);
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', goToAnchor);
  else goToAnchor();
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
