// Attention: what arrived while you were away, kept by this browser (localStorage), for the room this tab shows and
// for the room switcher.
// - A hidden tab counts the messages added to its room meanwhile (not yours) in its title: "(3) Title · Rooms".
// - A new message that mentions you or replies to you (data-mention="true", set by the message view) raises a desktop
//   notification when this browser turned them on (the header's notify-toggle) and the tab is not in front.
// - A "New" divider marks where you left off: before the first message (not yours) newer than the newest one this
//   browser saw in the room. A room counts as seen up to its newest message while its tab is visible and scrolled
//   to the bottom.
// - Switcher items (data-at: the time of the room's newest message, kept live by the server) get data-unread when
//   their room has a message newer than what this browser saw there.
// The server (switcher.py) tells this script about the room when the tab opens (`open`) and about each message added
// to it (`added`). Times are the messages' own (`created_at`), so every tab of every room compares the same numbers.
(() => {
  const SEEN = 'rooms-seen:';  // + room id: the time of the newest message this browser saw in that room
  const NOTIFY = 'rooms-notify';  // 'on' while this browser wants notifications of mentions and replies
  const MESSAGE = '[data-testid=message]';
  const ITEM = '[data-testid=switcher-room]';
  let room = null;
  let latest = 0;  // the time of this room's newest message
  let fresh = new Set();  // ids of the messages the divider belongs before (the first of them on the page)
  let away = null;  // while the tab is hidden: the messages added meanwhile
  let hiddenCount = 0;
  let baseTitle = null;
  let shownTitle = null;

  const storage = {
    get(key) { try { return localStorage.getItem(key); } catch { return null; } },
    set(key, value) { try { localStorage.setItem(key, value); } catch { /* storage off: nothing is remembered */ } },
  };
  const seenAt = (roomId) => {
    const value = storage.get(SEEN + roomId);
    return value === null ? null : Number(value);
  };
  function markSeen(roomId, at) {
    const before = seenAt(roomId);
    if (before === null || at > before) storage.set(SEEN + roomId, String(at));
  }
  const isHidden = () => document.visibilityState === 'hidden';
  const atBottom = () => window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;

  function open(data) {
    if (room !== null) return;  // once per page
    const before = seenAt(data.room);
    room = data.room;
    for (const [, at] of data.messages) latest = Math.max(latest, at);
    // a room this browser never showed has no divider: all of it is new
    fresh = new Set(before === null ? [] : data.messages.filter(([, at, mine]) => at > before && !mine).map(([id]) => id));
    placeDivider();
    watchMessages();
    if (data.switcher) watchSwitcher();
    showToggle();
    noteSeen();
  }

  function added([id, at, mine]) {
    latest = Math.max(latest, at);
    if (!mine && isHidden()) {
      hiddenCount += 1;
      showCount();
      away?.push(id);
    }
    if (!mine) whenShown(id, (message) => { if (message.getAttribute('data-mention') === 'true') notify(message); });
    noteSeen();
  }

  function noteSeen() {
    if (room === null || isHidden() || !atBottom()) return;
    markSeen(room, latest);
    markUnread();
  }

  document.addEventListener('visibilitychange', () => {
    if (isHidden()) {
      away = [];
      return;
    }
    if (away?.length) {
      fresh = new Set(away);
      placeDivider();
    }
    away = null;
    hiddenCount = 0;
    showCount();
    noteSeen();
  });
  let scrollPending = false;
  window.addEventListener('scroll', () => {
    if (scrollPending) return;
    scrollPending = true;
    requestAnimationFrame(() => { scrollPending = false; noteSeen(); });
  }, { passive: true });

  // the title -------------------------------------------------------------------------------------------------------

  function showCount() {
    if (document.title !== shownTitle) baseTitle = document.title;  // set by the page (a new room title)
    shownTitle = hiddenCount ? `(${hiddenCount}) ${baseTitle}` : baseTitle;
    if (document.title !== shownTitle) document.title = shownTitle;
  }
  function watchTitle() {
    const title = document.querySelector('title');
    if (!title) return;
    new MutationObserver(() => { if (hiddenCount && document.title !== shownTitle) showCount(); })
      .observe(title, { childList: true, characterData: true, subtree: true });
  }

  // the "New" divider --------------------------------------------------------------------------------------------

  function placeDivider() {
    const first = [...document.querySelectorAll(MESSAGE)].find((m) => fresh.has(m.getAttribute('data-message-id')));
    let divider = document.querySelector('[data-testid=new-divider]');
    if (!first) return divider?.remove();
    if (!divider) {
      divider = Object.assign(document.createElement('div'), { className: 'new-divider' });
      divider.setAttribute('data-testid', 'new-divider');
      divider.setAttribute('role', 'separator');
      divider.appendChild(Object.assign(document.createElement('span'), { textContent: 'New' }));
    }
    if (divider.nextElementSibling !== first) first.parentNode.insertBefore(divider, first);
  }
  let watchedColumn = null;
  function watchMessages() {  // the page inserts earlier messages above and new ones below: the divider follows
    const column = document.querySelector('[data-testid=empty-room]')?.parentElement;
    if (!column || column === watchedColumn) return;
    watchedColumn = column;
    let pending = false;
    new MutationObserver(() => {
      if (pending || !fresh.size) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; placeDivider(); });
    }).observe(column, { childList: true });
  }

  // notifications ----------------------------------------------------------------------------------------------------

  const notificationsOn = () => storage.get(NOTIFY) === 'on' && 'Notification' in window
    && Notification.permission === 'granted';

  async function toggleNotifications() {
    if (notificationsOn()) {
      storage.set(NOTIFY, 'off');
    } else if ('Notification' in window) {
      const permission = Notification.permission === 'default' ? await Notification.requestPermission()
        : Notification.permission;
      storage.set(NOTIFY, permission === 'granted' ? 'on' : 'off');
      if (permission === 'denied') {
        window.Quasar?.Notify?.create({ type: 'warning', message: 'This browser blocks notifications from this '
          + 'page: allow them in its site settings, then press the bell again.' });
      }
    }
    showToggle();
  }
  function showToggle() {
    for (const button of document.querySelectorAll('[data-testid=notify-toggle]')) {
      button.setAttribute('aria-pressed', String(notificationsOn()));
    }
  }

  function notify(message) {
    if (!notificationsOn() || (!isHidden() && document.hasFocus())) return;  // in front: the highlight says it
    const author = message.querySelector('[data-testid=message-author]')?.textContent.trim() || 'Someone';
    const text = message.querySelector('[data-testid=message-content]')?.textContent.trim() || '';
    try {
      const note = new Notification(`${author} in ${baseTitle || document.title}`, {
        body: text.length > 160 ? text.slice(0, 159) + '…' : text,
        tag: `rooms-${message.getAttribute('data-message-id')}`,  // one per message however many tabs show it
      });
      note.onclick = () => {
        window.focus();
        message.scrollIntoView({ block: 'center' });
        note.close();
      };
    } catch { /* some browsers allow notifications only from a service worker */ }
  }

  function whenShown(id, then, tries = 0) {  // the message's element arrives with the page's next update
    const message = document.querySelector(`${MESSAGE}[data-message-id="${CSS.escape(id)}"]`);
    if (message) then(message);
    else if (tries < 40) setTimeout(() => whenShown(id, then, tries + 1), 50);
  }

  // the room switcher ------------------------------------------------------------------------------------------------

  let switcher = null;
  const items = () => (switcher ? [...switcher.querySelectorAll(ITEM)] : []);

  function watchSwitcher() {
    const list = document.querySelector('[data-testid=room-switcher]');
    if (!list || list === switcher) return;
    switcher = list;
    // the rooms listed when the page opens and never seen by this browser: what they hold so far is not news
    for (const item of items()) {
      const id = item.getAttribute('data-room-id');
      if (seenAt(id) === null) markSeen(id, Number(item.getAttribute('data-at')));
    }
    new MutationObserver(() => {
      for (const item of items()) {  // a room listed later: all of it is news
        if (seenAt(item.getAttribute('data-room-id')) === null) markSeen(item.getAttribute('data-room-id'), 0);
      }
      markUnread();
    }).observe(list, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-at'] });
    list.addEventListener('keydown', onListKey);
    markUnread();
  }

  function markUnread() {
    for (const item of items()) {
      const seen = seenAt(item.getAttribute('data-room-id'));
      const unread = item.getAttribute('aria-current') !== 'page' && seen !== null
        && Number(item.getAttribute('data-at')) > seen;
      if (item.getAttribute('data-unread') !== String(unread)) item.setAttribute('data-unread', String(unread));
    }
  }
  window.addEventListener('storage', (event) => {  // another tab of this browser saw a room
    if (event.key === null || event.key.startsWith(SEEN)) markUnread();
    if (event.key === NOTIFY) showToggle();
  });

  const onScreen = (element) => {
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.right > 0 && box.left < window.innerWidth;
  };

  function openSwitcher() {
    if (!switcher) return;
    if (!onScreen(switcher)) document.querySelector('[data-testid=room-switcher-button]')?.click();
    const target = switcher.querySelector(`${ITEM}[aria-current=page]`) || switcher.querySelector(ITEM);
    let tries = 0;
    const focus = () => {
      if (onScreen(switcher) || tries++ > 40) target?.focus();
      else setTimeout(focus, 25);
    };
    focus();
  }

  function closeSwitcher() {  // a drawer over the page closes; a side list stays where it is
    if (switcher.closest('.q-drawer--mobile') && onScreen(switcher)) {
      document.querySelector('[data-testid=room-switcher-button]')?.click();
    }
    document.querySelector('textarea[data-testid=composer]')?.focus();
  }

  function onListKey(event) {
    const all = items();
    const index = all.indexOf(document.activeElement);
    const next = {
      ArrowDown: all[Math.min(all.length - 1, index + 1)],
      ArrowUp: all[Math.max(0, index - 1)],
      Home: all[0],
      End: all[all.length - 1],
    }[event.key];
    if (event.key === 'Escape') {  // handled: the page's Esc (stop the reply) is not meant
      event.preventDefault();
      event.stopPropagation();
      closeSwitcher();
    } else if (next) {
      event.preventDefault();
      next.focus();
    }
  }

  document.addEventListener('keydown', (event) => {  // Alt+K: to the room switcher
    if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || event.code !== 'KeyK') return;
    if (!switcher) watchSwitcher();  // pressed before the server said the page is open: the list is there already
    if (!switcher) return;
    event.preventDefault();
    openSwitcher();
  });

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', watchTitle);
  else watchTitle();

  window.roomsAttention = { open, added, toggleNotifications };
})();
