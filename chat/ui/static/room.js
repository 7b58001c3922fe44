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
      followNow();
    });
  }
  function followNow() {
    if (anchored && showAnchor()) return;
    if (following) window.scrollTo({ top: document.body.scrollHeight });
  }
  document.addEventListener('rooms:rendered', follow);
  // A ResizeObserver runs after layout, before paint: scrolling there costs no layout of its own and lands in the
  // frame in which the page grew. Deferred to the next frame, every new line of a streaming reply made two frames
  // that each redraw the whole viewport (Chromium redraws it all when the page's height changes, and when it scrolls).
  new ResizeObserver(followNow).observe(document.body);
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

// Theme: follows the system until the person picks one; the choice is remembered by this browser. The header's
// toggle shows the choice in force: its icon, its label and aria-pressed (true: dark, false: light, mixed: system).
(() => {
  const order = ['auto', 'dark', 'light'];
  const looks = {
    auto: { icon: 'brightness_auto', name: 'as the system', pressed: 'mixed' },
    dark: { icon: 'dark_mode', name: 'dark', pressed: 'true' },
    light: { icon: 'light_mode', name: 'light', pressed: 'false' },
  };
  const saved = () => (order.includes(localStorage.getItem('rooms-theme')) ? localStorage.getItem('rooms-theme') : 'auto');
  function apply(mode) {
    window.Quasar?.Dark.set(mode === 'auto' ? 'auto' : mode === 'dark');
    const look = looks[mode];
    const next = looks[order[(order.indexOf(mode) + 1) % order.length]];
    for (const button of document.querySelectorAll('[data-testid=theme-toggle]')) {
      button.setAttribute('aria-label', `Theme: ${look.name}`);
      button.setAttribute('aria-pressed', look.pressed);
      button.setAttribute('title', `Theme: ${look.name} (click for ${next.name})`);
      button.setAttribute('data-theme', mode);
      const icon = button.querySelector('.q-icon');
      if (icon) icon.textContent = look.icon;
    }
  }
  function applySaved() {
    if (!window.Quasar || !window.socket || !document.querySelector('[data-testid=theme-toggle]')) {
      return setTimeout(applySaved, 30);  // after NiceGUI set its default and drew the header
    }
    apply(saved());
  }
  applySaved();
  window.roomsCycleTheme = () => {
    const next = order[(order.indexOf(saved()) + 1) % order.length];
    localStorage.setItem('rooms-theme', next);
    apply(next);
  };
})();

// The message list, arranged for reading: a person's consecutive messages within a few minutes form one group (one
// avatar and name), each new day starts under a separator ("Today", "Yesterday", a date), times read "5 min ago"
// with the full date and time as their title. A polite live region tells screen readers of new messages.
(() => {
  const GROUP_SECONDS = 5 * 60;
  const dayOf = (date) => new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
  function dayLabel(date, now) {
    const days = Math.round((dayOf(now) - dayOf(date)) / 86400000);
    if (days === 0) return 'Today';
    if (days === 1) return 'Yesterday';
    const options = { weekday: 'long', month: 'long', day: 'numeric' };
    if (date.getFullYear() !== now.getFullYear()) options.year = 'numeric';
    return date.toLocaleDateString(undefined, options);
  }
  function timeLabel(date, now) {
    const seconds = (now - date) / 1000;
    if (seconds < 60) return 'just now';
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  }

  function arrange() {
    const now = new Date();
    let previous = null;
    for (const message of document.querySelectorAll('.messages > [data-testid=message]')) {
      const ts = Number(message.getAttribute('data-ts'));
      const date = new Date(ts * 1000);
      const day = dayLabel(date, now);
      const before = previous && Number(previous.getAttribute('data-ts'));
      const newDay = !previous || dayOf(new Date(before * 1000)) !== dayOf(date);
      setAttribute(message, 'data-day', newDay ? day : null);
      const grouped = !newDay && previous.getAttribute('data-author-key') === message.getAttribute('data-author-key')
        && ts - before < GROUP_SECONDS && message.getAttribute('data-role') === 'user';
      setAttribute(message, 'data-grouped', grouped ? 'true' : null);
      const time = message.querySelector('.msg-time');
      const full = date.toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short' });
      if (time) {
        const text = timeLabel(date, now);
        if (time.textContent !== text) time.textContent = text;
        setAttribute(time, 'title', full);
      }
      const bubble = message.querySelector('.msg-main');  // a grouped message hides its time: the bubble tells it
      if (bubble) setAttribute(bubble, 'title', grouped ? full : null);
      previous = message;
    }
  }
  function setAttribute(element, name, value) {
    if (value === null) element.removeAttribute(name);
    else if (element.getAttribute(name) !== value) element.setAttribute(name, value);
  }

  const statuses = new Map();  // message id -> status, to tell a reply that just finished
  function announceChanges(initial) {
    const all = [...document.querySelectorAll('.messages > [data-testid=message]')];
    // new at the end, not earlier ones loaded on demand above the known ones
    const lastKnown = all.findLastIndex((message) => statuses.has(message.getAttribute('data-message-id')));
    const news = [];  // said together: a message and a quick reply to it can come in one batch
    all.forEach((message, index) => {
      const id = message.getAttribute('data-message-id');
      const status = message.getAttribute('data-status');
      const before = statuses.get(id);
      statuses.set(id, status);
      if (initial || before === status) return;
      const arrived = before === undefined && index > lastKnown;
      if (message.getAttribute('data-role') === 'user') {
        if (arrived && message.getAttribute('data-own') !== 'true') {
          news.push(() => `${author(message)}: ${excerpt(message)}`);
        }
      } else if (status !== 'streaming' && (before === 'streaming' || arrived)) {  // a quick reply may come done
        news.push(() => (status === 'complete' ? `Claude replied: ${excerpt(message)}`
          : status === 'error' ? "Claude's reply failed." : `Claude's reply was ${status}.`));
      }
    });
    if (news.length) announce(() => news.map((text) => text()).join(' '));
  }
  const author = (message) => message.querySelector('[data-testid=message-author]')?.textContent || 'Someone';
  function excerpt(message) {
    const text = (message.querySelector('[data-testid=message-content]')?.textContent || '').replace(/\s+/g, ' ');
    return text.length > 200 ? `${text.slice(0, 200)}…` : text.trim() || '(files)';
  }
  let unsaid = [];  // news waiting for its moment: batches within it are said together, none replaces another unheard
  function announce(text) {
    unsaid.push(text);
    if (unsaid.length > 1) return;  // the moment is already set
    // a moment later: the status can change before the last words are drawn (bodies render at most every 100 ms)
    setTimeout(() => {
      const texts = unsaid;
      unsaid = [];
      const region = document.querySelector('[data-testid=announcer]');
      if (region) region.textContent = texts.map((said) => said()).join(' ');
    }, 400);
  }

  function watch(list) {
    arrange();
    announceChanges(true);
    let pending = false;
    const changed = () => {
      if (pending) return;
      pending = true;  // once for a burst of changes; a timer, not a frame: frames stop in a tab in the background
      setTimeout(() => { pending = false; arrange(); announceChanges(false); }, 50);
    };
    new MutationObserver(changed).observe(list, { childList: true });
    // only a status attribute: a streaming reply's text changes must not cost anything here
    new MutationObserver(changed).observe(list, { subtree: true, attributes: true, attributeFilter: ['data-status'] });
    setInterval(arrange, 30000);
  }
  // Quasar's loading bar (shown while a file uploads, say) is a progressbar without a name
  new MutationObserver(() => {
    for (const bar of document.querySelectorAll('.q-loading-bar:not([aria-label])')) bar.setAttribute('aria-label', 'Loading');
  }).observe(document.body, { childList: true });
  const found = () => document.querySelector('.messages');
  if (found()) watch(found());
  else {
    const waiting = new MutationObserver(() => {
      if (!found()) return;
      waiting.disconnect();
      watch(found());
    });
    waiting.observe(document.documentElement, { childList: true, subtree: true });
  }
})();

// Keyboard shortcuts (listed in the header's keyboard dialog).
document.addEventListener('keydown', (event) => {
  const typing = event.target.closest?.('textarea, input, [contenteditable=true]');
  const click = (testid) => document.querySelector(`[data-testid=${testid}]:not(.hidden)`)?.click();
  if (event.key === 'Escape') {
    // Esc closes the dialog or menu it was pressed in (Quasar does that, on keyup) and nothing else: stopping the
    // reply for everyone is only what Esc means with nothing open. In the composer it first drops the reply chip.
    const open = document.querySelector('.q-dialog, .q-menu') || window.roomsMentionListOpen?.();
    if (event.defaultPrevented || open) return;
    const chip = document.querySelector('[data-testid=replying-to]:not(.hidden)');
    if (chip && event.target.closest?.('[data-testid=composer]')) click('cancel-reply');
    else click('stop');
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

// @ mentions in the composer: typing @ at the start or after a blank lists Claude and the people here (the server
// keeps their names in [data-testid=mention-names]), filtered as one types. Up/Down move, Enter or Tab insert,
// Esc closes the list and does nothing else. While the list is closed every key does what it did before.
(() => {
  const CLAUDE = { name: 'Claude', insert: '@claude', hint: 'asks Claude to answer' };
  const LIST_ID = 'rooms-mention-list';
  let list = null;
  let options = [];
  let active = 0;
  let at = -1;  // where the @ being completed is in the text
  let dismissed = -1;  // the @ whose list Esc closed: it stays closed until that word is left

  const isComposer = (el) => el?.matches?.('textarea[data-testid=composer]');
  const composer = () => document.querySelector('textarea[data-testid=composer]');
  const isOpen = () => list !== null && !list.hidden;
  window.roomsMentionListOpen = isOpen;

  function people() {
    try {
      const names = JSON.parse(document.querySelector('[data-testid=mention-names]')?.getAttribute('data-names'));
      return Array.isArray(names) ? names.filter((name) => typeof name === 'string') : [];
    } catch {
      return [];
    }
  }

  function word(area) {  // the @word being typed: from an @ (at the start or after a blank) to the caret, one line
    if (area.selectionStart !== area.selectionEnd) return null;
    const before = area.value.slice(0, area.selectionStart);
    const start = before.lastIndexOf('@');
    if (start < 0 || (start > 0 && !/\s/.test(before[start - 1]))) return null;
    const typed = before.slice(start + 1);
    return typed.length > 40 || /[\n@]/.test(typed) ? null : { start, typed: typed.toLowerCase() };
  }

  function matching(typed) {
    const fits = (name) => name.toLowerCase().split(/\s+/).some((part) => part.startsWith(typed))
      || name.toLowerCase().startsWith(typed);  // "@ann l" still fits "Ann Lee"
    const here = people().filter((name) => name.toLowerCase() !== 'claude')
      .map((name) => ({ name, insert: '@' + name, hint: 'here now' }));
    return [CLAUDE, ...here].filter((option) => fits(option.name));
  }

  function update() {
    const area = composer();
    const current = area && document.activeElement === area ? word(area) : null;
    if (!current || current.start === dismissed) {
      if (!current) dismissed = -1;
      return close();
    }
    const found = matching(current.typed);
    if (!found.length) return close();
    const kept = isOpen() && current.start === at ? options[active]?.name : null;
    options = found;
    at = current.start;
    active = Math.max(0, options.findIndex((option) => option.name === kept));
    render(area);
  }

  function render(area) {
    if (!list) {
      list = Object.assign(document.createElement('div'), { id: LIST_ID, className: 'mention-list', hidden: true });
      list.setAttribute('role', 'listbox');
      list.setAttribute('aria-label', 'Mention');
      list.setAttribute('data-testid', 'mention-list');
      list.addEventListener('mousedown', (event) => event.preventDefault());  // the text box keeps the focus
      document.body.appendChild(list);
    }
    list.replaceChildren(...options.map((option, index) => {
      const item = document.createElement('div');
      item.id = `${LIST_ID}-${index}`;
      item.className = 'mention-option';
      item.setAttribute('role', 'option');
      item.setAttribute('data-testid', 'mention-option');
      item.setAttribute('data-name', option.name);
      item.setAttribute('aria-selected', String(index === active));
      const span = (className, textContent) => Object.assign(document.createElement('span'), {className, textContent});
      item.append(span('mention-name', option.name), span('mention-hint', option.hint));
      item.addEventListener('click', () => { active = index; pick(); });
      return item;
    }));
    list.hidden = false;
    combobox(area, true);
    place(area);
    follow();
    list.querySelector('[aria-selected=true]')?.scrollIntoView({ block: 'nearest' });
  }

  function place(area) {
    if (!isOpen()) return;
    const box = (area.closest('.q-field') || area).getBoundingClientRect();
    const chip = document.querySelector('[data-testid=replying-to]:not(.hidden)');  // left in sight above the list
    const top = Math.min(box.top, chip ? chip.getBoundingClientRect().top : box.top);
    list.style.bottom = `${window.innerHeight - top + 4}px`;
    list.style.maxWidth = `${Math.min(360, window.innerWidth - 8)}px`;
    list.style.maxHeight = `${Math.max(96, Math.min(260, top - 8))}px`;
    list.style.left = `${Math.max(4, Math.min(box.left, window.innerWidth - list.offsetWidth - 4))}px`;
  }

  // While open, the list follows the text box each frame: Quasar moves the footer after a resize or when the side
  // list opens, and a phone's keyboard moves it too; no event tells of all of these.
  let following = false;
  function follow() {
    if (following) return;
    following = true;
    const step = () => {
      const area = composer();
      if (!isOpen() || !area) { following = false; return; }
      place(area);
      requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  }

  function combobox(area, open) {
    area.setAttribute('role', 'combobox');
    area.setAttribute('aria-autocomplete', 'list');
    area.setAttribute('aria-controls', LIST_ID);
    area.setAttribute('aria-expanded', String(open));
    if (open) area.setAttribute('aria-activedescendant', `${LIST_ID}-${active}`);
    else area.removeAttribute('aria-activedescendant');
  }

  function close() {
    if (!isOpen()) return;
    list.hidden = true;
    const area = composer();
    if (area) combobox(area, false);
  }

  function move(step) {
    active = (active + step + options.length) % options.length;
    render(composer());
  }

  function pick() {
    const area = composer();
    const option = options[active];
    if (!area || !option) return close();
    const caret = area.selectionStart;
    const inserted = option.insert + ' ';
    area.value = area.value.slice(0, at) + inserted + area.value.slice(caret);
    const end = at + inserted.length;
    area.setSelectionRange(end, end);
    dismissed = at;  // "@Ann " must not offer "Ann Lee" again: Enter sends now
    close();
    area.dispatchEvent(new Event('input', { bubbles: true }));  // tells the page (and the server) the new text
    area.focus();
  }

  // capture, on window: runs before the text box's own Enter (send) and the page's Esc (stop) handlers
  window.addEventListener('keydown', (event) => {
    if (!isOpen() || !isComposer(event.target) || event.isComposing) return;
    const plain = !(event.shiftKey || event.ctrlKey || event.metaKey || event.altKey);
    const action = {
      ArrowDown: () => move(1),
      ArrowUp: () => move(-1),
      Enter: plain && pick,
      Tab: plain && pick,
      Escape: () => { dismissed = at; close(); },
    }[event.key];
    if (!action) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    action();
  }, true);
  document.addEventListener('input', (event) => { if (isComposer(event.target)) update(); });
  document.addEventListener('click', (event) => { if (isComposer(event.target)) update(); });
  document.addEventListener('keyup', (event) => {
    if (isComposer(event.target) && ['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(event.key)) update();
  });
  document.addEventListener('focusout', (event) => { if (isComposer(event.target)) close(); });
})();
