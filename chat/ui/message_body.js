// Browser side of a chat message body: the component that shows a message as sanitised Markdown and follows its
// streamed text, and the socket transport that feeds every body on the page.
//
// The Markdown itself (parsing, sanitising, code and math) is the pure module chat/ui/markdown.js. Neither it nor
// `marked` is imported relatively: NiceGUI serves a component and its `dependencies=[...]` under different hashed URL
// prefixes, but lists every registered library in the page's import map under its file-name stem, so
// `chat/ui/markdown.js` is importable as "markdown" (see message_body.py).
import {
  PENDING_SELECTOR, inlineHtml, isSettled, lexInline, linksOf, onLibraryLoaded, renderInline, renderMarkdown, splitBlocks,
} from "markdown";

// Streamed text shows at once as plain text (see showAtOnce); the Markdown render that replaces it is spaced out by
// its cost: the next render of a message waits until RENDER_SHARE times the cost of the last one (with the layout it
// causes) has passed since that one started, so rendering takes about 1/RENDER_SHARE of the tab's time at most.
// A render touches only what changed: finished blocks keep their DOM, and a paragraph that grows at its end keeps
// the nodes of its unchanged inline tokens (a long paragraph costs what was appended, not its length).
const RENDER_SHARE = 20;
const MIN_RENDER_INTERVAL_MS = 100;
const MAX_RENDER_INTERVAL_MS = 500;
// In a paragraph longer than this, streamed text waits for its render in an inline block of its own: Chromium then
// lays out only that box at each word, not the whole paragraph (measured at 2,000 words: 1 ms a word, not 4), at the
// price of the newest words starting a line early until the render (a tenth of a second or so) puts them in place.
const ISOLATE_AFTER = 2000;
const SYNC_TIMEOUT_MS = 5000; // forget an unanswered rooms_sync so that later gaps can ask again
const TEXT_EVENT = "rooms_text"; // frames [body, offset, text, body, offset, text, ...] (chat/ui/live.py)

// Where streamed text goes until the next render: the innermost last block of the rendered tail (its last paragraph,
// list item or code block, also inside the box that carries a code block's header), so that it continues the text
// it follows.
const APPEND_INTO = new Set(["P", "LI", "UL", "OL", "BLOCKQUOTE", "PRE", "CODE", "H1", "H2", "H3", "H4", "H5", "H6"]);

function appendTarget(element) {
  for (;;) {
    let last = element.lastChild;
    while (last && last.nodeType === Node.TEXT_NODE && !last.data.trim()) last = last.previousSibling;
    if (!last || last.nodeType !== Node.ELEMENT_NODE) return element;
    if (!APPEND_INTO.has(last.tagName) && !last.classList.contains("rb-code")) return element;
    if (last.tagName === "CODE" && element.tagName !== "PRE") return element; // inline code: text goes after it
    element = last;
  }
}

function withoutTrailingSpace(text) {
  let end = text.length;
  while (end > 0 && /\s/.test(text[end - 1])) end--;
  return end;
}

// How much of a paragraph's inline source later text cannot change, with its tokens: the leading settled tokens
// (see isSettled), the last one cut after a blank; the last few characters are never in it (a word may go on).
// Lexing the paragraph again may start there, so that a render costs what was appended, not the paragraph's length.
const UNSETTLED_TAIL = 40;
function settledPrefix(tokens, sourceLength) {
  const limit = sourceLength - UNSETTLED_TAIL;
  let stable = { length: 0, tokens: [] };
  let position = 0;
  for (let i = 0; i < tokens.length && isSettled(tokens[i]); i++) {
    const raw = tokens[i].raw;
    if (position + raw.length <= limit) {
      position += raw.length;
      if (/\s$/.test(raw)) stable = { length: position, tokens: tokens.slice(0, i + 1) };
      continue;
    }
    if (tokens[i].type === "text") {
      const cut = raw.slice(0, Math.max(0, limit - position)).search(/\s\S*$/);
      if (cut > 0) {
        const kept = raw.slice(0, cut + 1); // a settled text token's text is its raw (no escape, no entity)
        stable = { length: position + kept.length, tokens: [...tokens.slice(0, i), { type: "text", raw: kept, text: kept }] };
      }
    }
    break;
  }
  return stable;
}

// Chromium repaints a Text node whole when its text changes: text that grows one Text node holding the paragraph
// would repaint the whole paragraph at each render (measured: ~40 tiles rastered a frame at 300 words, not ~7).
// New text goes into a small node of its own; the paragraph reads and lays out the same.
const TEXT_NODE_CHARS = 120;
function appendText(nodes, text) {
  const last = nodes[nodes.length - 1];
  if (last.length + text.length <= TEXT_NODE_CHARS) {
    last.appendData(text);
    return;
  }
  const node = document.createTextNode(text);
  last.after(node);
  nodes.push(node);
}

function removeAll(nodes) {
  for (const node of nodes) node.remove();
}

// ---------------------------------------------------------------------------------------------------------------
// Offsets count Unicode code points, like Python's len(), not JavaScript's UTF-16 units: "🙂" is 1, not 2.

function isHigh(c) {
  return c >= 0xd800 && c <= 0xdbff;
}
function isLow(c) {
  return c >= 0xdc00 && c <= 0xdfff;
}
function codePointLength(s) {
  let n = s.length;
  for (let i = 0; i + 1 < s.length; i++) {
    if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) {
      n--;
      i++;
    }
  }
  return n;
}
function dropCodePoints(s, count) {
  let i = 0;
  for (; count > 0 && i < s.length; count--) {
    i += isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
  }
  return s.slice(i);
}

// ---------------------------------------------------------------------------------------------------------------
// Page-wide state: the registry of mounted bodies, the socket handlers and the debounced room syncs.

if (!window.roomsBodies) window.roomsBodies = new Map(); // msgid -> Set of mounted component instances
const pendingSyncs = new Set(); // rooms to sync at the next tick
const syncState = new Map(); // room -> { request: the unanswered one or null, timer, again: bool }
let syncTimer = null;

function mountedBodies() {
  const all = [];
  for (const set of window.roomsBodies.values()) for (const body of set) all.push(body);
  return all;
}

function installSocketHandlers() {
  if (window.__roomsBodiesSocketHooked) return;
  // window.socket is created in the root app's mounted(), which runs after its children (us) have mounted
  if (!window.socket) {
    setTimeout(installSocketHandlers, 20);
    return;
  }
  window.__roomsBodiesSocketHooked = true;
  window.socket.on(TEXT_EVENT, (frame) => {
    if (!Array.isArray(frame)) return;
    for (let i = 0; i + 2 < frame.length; i += 3) {
      const [msgid, offset, chunk] = [frame[i], frame[i + 1], frame[i + 2]];
      const bodies = window.roomsBodies.get(String(msgid));
      if (!bodies || typeof offset !== "number" || typeof chunk !== "string") continue;
      for (const body of bodies) body.applyDelta(offset, chunk);
    }
  });
  // Every connect, including a reconnect, is a new socket.io session that has to join the rooms again.
  window.socket.on("connect", () => syncAllRooms(true));
  if (window.socket.connected) syncAllRooms(true);
}

function syncAllRooms(fresh) {
  if (fresh) {
    for (const state of syncState.values()) {
      clearTimeout(state.timer);
      state.request = null; // an answer to the previous session's request may never come
    }
  }
  for (const body of mountedBodies()) requestSync(body.room);
}

// Ask for a rooms_sync of this room at the next tick, so that many bodies mounting (or many gaps) at once send one.
function requestSync(room) {
  if (room === undefined || room === null) return;
  pendingSyncs.add(room);
  if (syncTimer === null) syncTimer = setTimeout(flushSyncs, 0);
}

function flushSyncs() {
  syncTimer = null;
  const rooms = [...pendingSyncs];
  pendingSyncs.clear();
  // Not connected: nothing is lost, the connect handler syncs every room.
  if (!window.__roomsBodiesSocketHooked || !window.socket?.connected) return;
  for (const room of rooms) {
    let state = syncState.get(room);
    if (!state) syncState.set(room, (state = { request: null, timer: null, again: false }));
    if (state.request !== null) {
      state.again = true; // one request at a time per room: ask again once the answer is in
      continue;
    }
    const msgs = [];
    for (const body of mountedBodies()) {
      if (body.room === room && body.live && !msgs.includes(body.msgid)) msgs.push(body.msgid);
    }
    const request = {};
    const finish = () => {
      if (state.request !== request) return; // superseded (reconnect) or timed out
      clearTimeout(state.timer);
      state.request = null;
      if (state.again) {
        state.again = false;
        requestSync(room);
      }
    };
    state.request = request;
    state.timer = setTimeout(finish, SYNC_TIMEOUT_MS);
    // Sent even without live messages: the server uses it to put this socket into the room's broadcast group.
    window.socket.emit("rooms_sync", { room, client_id: window.clientId, msgs }, (answer) => {
      const texts = answer && typeof answer === "object" ? answer.texts : null;
      if (texts && typeof texts === "object") {
        for (const [msgid, text] of Object.entries(texts)) {
          if (typeof text !== "string") continue;
          for (const body of window.roomsBodies.get(msgid) || []) if (body.room === room) body.setCurrent(text);
        }
      }
      finish();
    });
  }
}

// Styles for the few elements the Markdown module adds: a code block's header (language and Copy, never over the
// code), the box a table scrolls in, and math at the size of the text around it.
function injectStyles() {
  if (document.getElementById("rooms-message-body-style")) return;
  const style = document.createElement("style");
  style.id = "rooms-message-body-style";
  style.textContent = `
    .rb { min-width: 0; max-width: 100%; }
    .rb .rb-code { margin: 0.5em 0; border-radius: 8px; overflow: hidden; background: #1e1e2a; max-width: 100%; }
    .rb .rb-code-head { display: flex; align-items: center; justify-content: space-between; gap: 0.5rem;
      padding: 2px 6px 2px 12px; background: #2b2b3a; color: #c9c9d6; font-size: 12px; line-height: 24px;
      font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
    .rb .rb-code-lang { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .rb .rb-code .rb-copy { flex: none; font: inherit; font-size: 12px; line-height: 20px; padding: 0 8px;
      border-radius: 4px; border: 1px solid #5a5a6e; background: transparent; color: #e6e6ef; cursor: pointer; }
    .rb .rb-code .rb-copy:hover, .rb .rb-code .rb-copy:focus-visible { background: #3a3a4e; }
    .rb .rb-code > pre { margin: 0; border-radius: 0; overflow-x: auto; max-width: 100%; white-space: pre; }
    .rb .rb-table { max-width: 100%; overflow-x: auto; margin: 6px 0; }
    .msg .rb .rb-table > table, .rb .rb-table > table { display: table; width: max-content; max-width: none; margin: 0; }
    .rb .rb-table th, .rb .rb-table td { min-width: 4em; max-width: 24em; overflow-wrap: normal; word-break: normal;
      hyphens: manual; }
    .rb .rb-math-block { overflow-x: auto; max-width: 100%; }
    .rb math { font-size: 1.1em; }
    .rb .rb-math-open { white-space: pre-wrap; opacity: 0.8; }
    .rb .rb-new { display: inline-block; max-width: 100%; }
  `;
  document.head.append(style);
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // no clipboard API (e.g. plain http on a LAN address) or no permission: try the legacy way, quietly
    try {
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.append(area);
      area.select();
      const ok = document.execCommand("copy");
      area.remove();
      return ok;
    } catch {
      return false;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------

export default {
  template: `<div class="rb" @click="onClick"><div class="rb-done" ref="done"></div><div class="rb-tail" ref="tail"></div></div>`,
  props: {
    room: String,
    msgid: String,
    text: String,
    streaming: Boolean,
  },
  created() {
    // Plain (non-reactive) state: Vue never re-renders the template for it, we patch the DOM ourselves.
    this.current = this.text || "";
    this.currentLength = codePointLength(this.current);
    this.live = this.streaming; // asked about in rooms_sync: streaming at render time or received a text since
    this.doneBlocks = []; // [{ source, nodes }] rendered into .rb-done; their sources are a prefix of the text
    this.doneLength = 0; // UTF-16 length of that prefix
    this.doneDefinitions = []; // link reference definitions in the finished blocks
    this.definitions = ""; // the definitions every rendered block was given, joined
    this.tailSource = null;
    this.tailItems = null; // a paragraph tail rendered token by token: { p, items: [{ raw, html, nodes }] }
    this.lastRender = 0;
    this.renderCost = 0; // ms the last render took, with its layout
    this.renderTimer = null;
    this.renderedUpTo = 0; // this.current up to here is rendered markdown (less trailing space, which markdown drops)
    this.provisional = null; // the Text node showing the text after renderedUpTo until the next render
  },
  mounted() {
    injectStyles();
    this.register(this.msgid);
    this.stopListening = onLibraryLoaded(() => this.renderAgain());
    this.render();
    installSocketHandlers();
    requestSync(this.room);
  },
  unmounted() {
    this.unregister(this.msgid);
    this.stopListening?.();
    clearTimeout(this.renderTimer);
    this.renderTimer = null;
  },
  watch: {
    text(value) {
      this.setCurrent(value || "");
    },
    streaming(value) {
      if (value) {
        this.live = true;
        requestSync(this.room);
      }
    },
    msgid(value, old) {
      this.unregister(old);
      this.register(value);
    },
    room() {
      requestSync(this.room);
    },
  },
  methods: {
    register(msgid) {
      if (!window.roomsBodies.has(msgid)) window.roomsBodies.set(msgid, new Set());
      window.roomsBodies.get(msgid).add(this);
    },
    unregister(msgid) {
      const set = window.roomsBodies.get(msgid);
      if (!set) return;
      set.delete(this);
      if (set.size === 0) window.roomsBodies.delete(msgid);
    },
    getText() {
      return this.current;
    },
    setCurrent(text) {
      if (text === this.current) return;
      this.dropProvisional();
      this.current = text;
      this.currentLength = codePointLength(text);
      this.scheduleRender();
    },
    applyDelta(offset, chunk) {
      this.live = true;
      if (offset === -1) {
        this.setCurrent(chunk);
        return;
      }
      if (offset < 0) return;
      if (offset > this.currentLength) {
        requestSync(this.room); // we missed some text: ask for all of it
        return;
      }
      const fresh = offset === this.currentLength ? chunk : dropCodePoints(chunk, this.currentLength - offset);
      if (!fresh) return; // nothing new: a duplicate
      this.current += fresh;
      this.currentLength += codePointLength(fresh);
      this.showAtOnce(fresh);
      this.scheduleRender();
    },
    // Show the text that arrived since the last render as plain text right away, so a word's latency does not depend
    // on how long the reply is or how costly its markdown; the next render replaces it with the formatted text.
    // A Text node is never parsed as HTML: this needs no sanitising.
    showAtOnce(fresh) {
      const tailEl = this.$refs.tail;
      if (!tailEl || this.tailSource === null) return; // not rendered yet: the first render shows everything
      if (!this.provisional || !this.provisional.isConnected) {
        this.provisional = document.createTextNode(this.current.slice(this.renderedUpTo));
        const target = appendTarget(tailEl);
        if (target.tagName === "P" && this.current.length - this.doneLength > ISOLATE_AFTER) {
          const box = document.createElement("span");
          box.className = "rb-new";
          box.append(this.provisional);
          target.append(box);
        } else {
          target.append(this.provisional);
        }
      } else {
        this.provisional.appendData(fresh); // appending keeps the text already laid out
      }
    },
    dropProvisional() {
      if (this.provisional?.parentNode?.classList?.contains("rb-new")) this.provisional.parentNode.remove();
      this.provisional?.remove();
      this.provisional = null;
    },
    scheduleRender() {
      if (this.renderTimer !== null) return; // one pending render will pick up the latest text
      const byCost = Math.max(MIN_RENDER_INTERVAL_MS, this.renderCost * RENDER_SHARE);
      const interval = Math.min(MAX_RENDER_INTERVAL_MS, byCost);
      const wait = this.lastRender + interval - performance.now();
      if (wait <= 0) {
        this.render();
      } else {
        this.renderTimer = setTimeout(() => {
          this.renderTimer = null;
          this.render();
        }, wait);
      }
    },
    render() {
      const doneEl = this.$refs.done;
      const tailEl = this.$refs.tail;
      if (!doneEl || !tailEl) return;
      const started = (this.lastRender = performance.now());
      this.dropProvisional();
      this.keepDoneBlocksStillInText();
      const split = splitBlocks(this.current.slice(this.doneLength));
      const fresh = split.blocks.map((source) => ({
        source,
        definitions: split.definitions.filter((definition) => source.includes(definition)),
      }));
      const definitions = [...this.doneDefinitions, ...split.definitions];
      if (definitions.join("\n") !== this.definitions) {
        // a reference defined by new text may be used by any block: render them all again
        this.definitions = definitions.join("\n");
        this.dropDoneBlocks(0);
        this.render();
        return;
      }
      for (const { source, definitions: own } of fresh) {
        const fragment = renderMarkdown(source, definitions);
        const nodes = [...fragment.childNodes];
        doneEl.append(fragment); // adopts the nodes into the page only now, after images were replaced
        this.doneBlocks.push({ source, nodes, definitions: own });
        this.doneLength += source.length;
        this.doneDefinitions.push(...own);
      }
      if (fresh.length) this.tailSource = null; // the old tail is a finished block now
      if (split.tail !== this.tailSource) {
        const paragraph = split.tailParagraph;
        const links = this.doneDefinitions.length ? { ...linksOf(this.doneDefinitions), ...split.links } : split.links;
        if (paragraph === null || !this.renderTailParagraph(tailEl, paragraph, links)) {
          tailEl.replaceChildren(renderMarkdown(split.tail, definitions));
          this.tailItems = null;
        }
        this.tailSource = split.tail;
      }
      this.renderedUpTo = withoutTrailingSpace(this.current);
      this.$el.dispatchEvent(new CustomEvent("rooms:rendered", { bubbles: true }));
      void tailEl.offsetHeight; // the layout the next frame would do anyway, done now so that its cost is counted
      this.renderCost = performance.now() - started;
    },
    // A tail that is one paragraph: keep the nodes of its leading tokens that did not change, extend a text token
    // that only grew, render the rest. While the paragraph only grows, it is lexed again from its last settled token
    // on, not from its start. False when it cannot (the caller renders the whole tail).
    renderTailParagraph(tailEl, source, links) {
      let tail = this.tailItems;
      const linksKey = JSON.stringify(links);
      if (!tail || tail.p.parentNode !== tailEl || tail.linksKey !== linksKey) {
        tailEl.replaceChildren();
        tail = this.tailItems = {
          p: document.createElement("p"), items: [], source: "", linksKey, stable: { length: 0, tokens: [] },
        };
        tailEl.append(tail.p);
      }
      const { p, items } = tail;
      const stable = source.startsWith(tail.source) ? tail.stable : { length: 0, tokens: [] };
      const tokens = stable.tokens.map((token) => ({ ...token }));
      for (const token of lexInline(source.slice(stable.length), links)) {
        const last = tokens[tokens.length - 1];
        if (last?.type === "text" && token.type === "text" && !last.tokens && !token.tokens) {
          last.raw += token.raw; // marked merges adjacent text too
          last.text += token.text;
        } else {
          tokens.push(token);
        }
      }
      tail.source = source;
      tail.stable = settledPrefix(tokens, source.length);
      let same = 0;
      while (same < items.length && same < tokens.length && items[same].raw === tokens[same].raw) same++;
      if (same === items.length - 1 && same < tokens.length) {
        // the last token grew: if its HTML only gained plain text, append that to its Text node
        const old = items[same];
        const html = inlineHtml(tokens[same]);
        const extra = old.html !== null && html.startsWith(old.html) ? html.slice(old.html.length) : null;
        const plain = old.nodes.length > 0 && old.nodes.every((node) => node.nodeType === Node.TEXT_NODE);
        if (extra !== null && !/[<&]/.test(extra) && plain) {
          appendText(old.nodes, extra);
          Object.assign(old, { raw: tokens[same].raw, html, settled: isSettled(tokens[same]) });
          same++;
        }
      }
      for (const item of items.splice(same)) removeAll(item.nodes);
      if (same === tokens.length) return true;
      const rendered = renderInline(tokens.slice(same));
      if (!rendered) {
        this.tailItems = null;
        return false;
      }
      rendered.groups.forEach((nodes, i) => {
        const token = tokens[same + i];
        const html = token.type === "text" ? inlineHtml(token) : null;
        items.push({ raw: token.raw, html, nodes, settled: isSettled(token) });
      });
      p.append(rendered.fragment);
      return true;
    },
    // The finished blocks whose sources are still where they were in the text (a replaced text may keep some).
    keepDoneBlocksStillInText() {
      let position = 0;
      let kept = 0;
      while (kept < this.doneBlocks.length && this.current.startsWith(this.doneBlocks[kept].source, position)) {
        position += this.doneBlocks[kept].source.length;
        kept++;
      }
      if (kept < this.doneBlocks.length) this.dropDoneBlocks(kept);
    },
    dropDoneBlocks(from) {
      for (const old of this.doneBlocks.splice(from)) removeAll(old.nodes);
      this.doneLength = this.doneBlocks.reduce((length, block) => length + block.source.length, 0);
      this.doneDefinitions = this.doneBlocks.flatMap((block) => block.definitions);
      this.tailSource = null;
      this.tailItems = null;
    },
    renderAgain() {
      // KaTeX or highlight.js arrived: finished blocks from the first one still showing TeX or uncoloured code on
      // are rendered again; the ones before it keep their DOM.
      const stale = (node) =>
        node.nodeType === Node.ELEMENT_NODE && (node.matches(PENDING_SELECTOR) || node.querySelector(PENDING_SELECTOR) !== null);
      const first = this.doneBlocks.findIndex((block) => block.nodes.some(stale));
      if (first >= 0) this.dropDoneBlocks(first);
      this.tailSource = null;
      this.tailItems = null;
      this.render();
    },
    async onClick(event) {
      const button = event.target.closest?.(".rb-copy");
      if (!button || !this.$el.contains(button)) return;
      const code = button.closest(".rb-code")?.querySelector("pre");
      if (!code) return;
      const ok = await copyText(code.textContent);
      button.textContent = ok ? "Copied" : "Copy";
      if (ok) setTimeout(() => (button.textContent = "Copy"), 1500);
    },
  },
};
