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
