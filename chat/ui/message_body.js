// Browser side of a chat message body: sanitised markdown that follows streamed text deltas.
//
// `marked` is not imported relatively: NiceGUI serves a component and its `dependencies=[...]` under different
// hashed URL prefixes, but lists every registered library in the page's import map under its file-name stem,
// so `chat/ui/lib/marked.esm.js` is importable as "marked" (see message_body.py). "dompurify" is NiceGUI's own entry.
import { Marked } from "marked";
import createDOMPurify from "dompurify";

// A streamed delta shows at once as plain text (see showAtOnce); the markdown render that replaces it is spaced out by
// its cost: the next render of a message waits until RENDER_SHARE times the cost of the last one (with the layout it
// causes) has passed since that one started, so rendering takes about 1/RENDER_SHARE of the tab's time at most,
// however long the reply grows. Formatting thus follows the plain text by a tenth of a second or so; each render
// re-lays out the reply's last block, which on a 2-core machine with several tabs costs more than showing the words.
const RENDER_SHARE = 20;
const MIN_RENDER_INTERVAL_MS = 100;
const MAX_RENDER_INTERVAL_MS = 500;
const SYNC_TIMEOUT_MS = 5000; // forget an unanswered rooms_sync so that later gaps can ask again

// ---------------------------------------------------------------------------------------------------------------
// Markdown → sanitised DOM

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// A private Marked instance, so that whatever else on the page uses marked keeps its own options.
const markdown = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    // Raw HTML typed by a user is shown as the literal text they typed, never interpreted.
    html({ text, block }) {
      if (!block) return escapeHtml(text);
      return "<p>" + escapeHtml(text.replace(/\n+$/, "")).replace(/\n/g, "<br>") + "</p>\n";
    },
    // Task list boxes as characters: <input> is forbidden below, and a disabled checkbox would not be useful anyway.
    checkbox({ checked }) {
      return checked ? "☑ " : "☐ ";
    },
  },
});

// Math: $...$ inside text and $$...$$ blocks become placeholders holding the TeX as text; after sanitising,
// KaTeX (loaded only when a message has math) turns them into MathML. "$5 and $10" stays text, like in Pandoc:
// no blank after the opening $, none before the closing one, and no digit right after it.
const INLINE_MATH = /^\$(?=[^\s$])((?:\\.|[^\\$\n])*?[^\s\\$]|[^\s$])\$(?!\d)/;
const BLOCK_MATH = /^\$\$([\s\S]+?)\$\$[ \t]*(?:\n|$)/;
const firstIndex = (index) => (index >= 0 ? index : undefined);
markdown.use({
  extensions: [
    {
      name: "mathBlock",
      level: "block",
      start: (src) => firstIndex(src.indexOf("$$")),
      tokenizer(src) {
        const match = BLOCK_MATH.exec(src);
        if (match) return { type: "mathBlock", raw: match[0], text: match[1].trim() };
      },
      renderer: (token) => `<div class="rb-math rb-math-block">${escapeHtml(token.text)}</div>\n`,
    },
    {
      name: "mathInline",
      level: "inline",
      start: (src) => firstIndex(src.indexOf("$")),
      tokenizer(src) {
        const match = INLINE_MATH.exec(src);
        if (match) return { type: "mathInline", raw: match[0], text: match[1] };
      },
      renderer: (token) => `<span class="rb-math">${escapeHtml(token.text)}</span>`,
    },
  ],
});

// KaTeX and highlight.js load only once a message needs them (most pages never do); then every body renders again.
function renderAllAgain() {
  for (const instances of window.roomsBodies?.values() ?? []) for (const body of instances) body.renderAgain();
}

let katex = null;
let katexLoading = null;
function typeset(element) {
  if (!katex) {
    katexLoading ??= import("katex").then((module) => {
      katex = module.default;
      renderAllAgain();
    });
    return;
  }
  try {
    // output "mathml": no fonts or stylesheet to load; trust off: no \href, \url or \htmlClass
    element.innerHTML = katex.renderToString(element.textContent, {
      displayMode: element.classList.contains("rb-math-block"),
      output: "mathml",
      throwOnError: false,
      trust: false,
      strict: "ignore",
      maxSize: 50,
      maxExpand: 500,
    });
    element.classList.add("rb-math-done");
  } catch (error) {
    console.warn("message_body: math failed", error);
  }
}

// Our own DOMPurify instance: hooks and settings here must not leak into NiceGUI's shared default instance.
const purify = createDOMPurify(window);

// Only http(s) and mailto schemes, plus scheme-less values (relative links, and plain attribute values such as
// align="center" or start="2", which DOMPurify also checks against this expression). Everything else (javascript:,
// data:, vbscript:, file:, ...) is dropped. Same shape as DOMPurify's default expression, fewer schemes.
const SAFE_URL = /^(?:(?:https?|mailto):|[^a-z]|[a-z+.\-]+(?:[^a-z+.\-:]|$))/i;
// DOMPurify removes these characters before testing a URL; browsers ignore them inside schemes ("java\tscript:").
const URL_IGNORED_CHARS = /[\u0000-\u0020\u00A0\u1680\u180E\u2000-\u2029\u205F\u3000]/g;

const PURIFY_CONFIG = {
  // Allow-list what marked produces; the forbid lists below are defence in depth should the list ever be widened.
  ALLOWED_TAGS: [
    "a", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
  ],
  ALLOWED_ATTR: ["href", "title", "class", "align", "start", "alt", "src"],
  FORBID_TAGS: [
    "style", "form", "input", "button", "textarea", "select", "option", "iframe", "frame", "object", "embed",
    "link", "meta", "base", "script", "svg", "math", "audio", "video", "source", "track", "picture", "image",
  ],
  FORBID_ATTR: ["style", "background", "srcset", "poster", "formaction", "action", "ping", "xlink:href"],
  ALLOW_DATA_ATTR: false,
  ALLOWED_URI_REGEXP: SAFE_URL,
  // A fragment that still belongs to DOMPurify's inert document: images in it do not load, so <img> can be
  // replaced below before anything is adopted into the live page.
  RETURN_DOM_FRAGMENT: true,
};

purify.addHook("uponSanitizeAttribute", (_node, data) => {
  if (data.attrName.startsWith("on")) data.keepAttr = false; // no event handler, whatever the allow-list says
});

function isSafeUrl(url) {
  return SAFE_URL.test(url.replace(URL_IGNORED_CHARS, ""));
}

const LINK_REL = "noopener noreferrer nofollow";

// Post-process a sanitised fragment (still inert): images become links, links open in a new tab without referrer,
// and code blocks get a copy button.
function finishFragment(fragment) {
  const doc = fragment.ownerDocument;
  // Remote images would tell the image host who reads the room and when, so they are never loaded automatically.
  for (const img of fragment.querySelectorAll("img")) {
    const src = img.getAttribute("src") || "";
    const label = "🖼 " + (img.getAttribute("alt") || "image");
    let replacement;
    if (src && isSafeUrl(src)) {
      replacement = doc.createElement("a");
      replacement.setAttribute("href", src);
      replacement.className = "rb-img";
      const title = img.getAttribute("title");
      if (title) replacement.setAttribute("title", title);
    } else {
      replacement = doc.createElement("span");
    }
    replacement.textContent = label;
    img.replaceWith(replacement);
  }
  for (const a of fragment.querySelectorAll("a")) {
    const href = a.getAttribute("href");
    if (href !== null && !isSafeUrl(href)) a.removeAttribute("href");
    a.setAttribute("target", "_blank");
    a.setAttribute("rel", LINK_REL);
  }
  for (const math of fragment.querySelectorAll(".rb-math")) typeset(math);
  for (const pre of fragment.querySelectorAll("pre")) {
    highlight(pre.querySelector("code"));
    const box = doc.createElement("div");
    box.className = "rb-code";
    const button = doc.createElement("button");
    button.type = "button";
    button.className = "rb-copy";
    button.setAttribute("data-testid", "code-copy");
    button.textContent = "Copy";
    pre.replaceWith(box);
    box.append(button, pre);
  }
  return fragment;
}

// Fenced code with a known language gets highlight.js colours. It reads the code's text and writes only
// escaped text in <span class="hljs-..."> elements, so the sanitised fragment stays safe.
let hljs = null;
let hljsLoading = null;
function highlight(code) {
  const language = /(?:^|\s)language-([\w+#-]+)/.exec(code?.className ?? "")?.[1];
  if (!language) return;
  if (!hljs) {
    hljsLoading ??= import("hljs").then((module) => {
      hljs = module.default;
      hljs.configure({ ignoreUnescapedHTML: true });
      renderAllAgain();
    });
    return;
  }
  if (!hljs.getLanguage(language)) return;
  try {
    hljs.highlightElement(code);
  } catch (error) {
    console.warn("message_body: highlighting failed", error);
  }
}

// `definitions`: the reply's link reference definitions ("[d]: https://..."), appended to every block so that a
// reference resolves whichever block defines it (they render as nothing).
function renderMarkdown(source, definitions = "") {
  try {
    const text = definitions ? `${source}\n\n${definitions}\n` : source;
    return finishFragment(purify.sanitize(markdown.parse(text), PURIFY_CONFIG));
  } catch (error) {
    // Never leave a message blank or half-rendered because of a parser bug: fall back to plain text.
    console.error("message_body: markdown rendering failed", error);
    const fragment = document.createDocumentFragment();
    const p = document.createElement("p");
    p.textContent = source;
    fragment.append(p);
    return fragment;
  }
}

// Split the text into blocks at "safe" boundaries: after a blank line that is not inside a fenced code block and
// that is followed by a line starting without indentation (an indented line would continue a list item or an
// indented code block). A boundary needs the next line's first character, so an unfinished block stays in the tail.
// Fences are recognised after any indentation and quote markers: seeing too many fences only means fewer
// boundaries (slower, never wrong). Blocks are rendered separately, so a loose list split at a boundary becomes
// two lists; marked's start="N" keeps an ordered list's numbering.
const FENCE_OPEN = /^[ \t>]*(`{3,}|~{3,})([^\r\n]*)/;
const FENCE_CLOSE = /^[ \t>]*(`{3,}|~{3,})[ \t\r]*$/;
const MATH_FENCE = /^[ \t]*\$\$/; // a line opening a $$ block; the block may hold blank lines until the closing $$
const MATH_MARKS = /\$\$/g;

// The fence a line opens ({ char, length }; char "$" for a $$ block), or null.
function opensFence(line) {
  const m = FENCE_OPEN.exec(line);
  // a backtick fence's info string cannot contain backticks (that is inline code instead)
  if (m && !(m[1][0] === "`" && m[2].includes("`"))) return { char: m[1][0], length: m[1].length };
  if (MATH_FENCE.test(line) && (line.match(MATH_MARKS) || []).length % 2 === 1) return { char: "$" };
  return null;
}

function closesFence(fence, line) {
  if (fence.char === "$") return line.includes("$$");
  const m = FENCE_CLOSE.exec(line);
  return m !== null && m[1][0] === fence.char && m[1].length >= fence.length;
}

function splitBlocks(text) {
  const blocks = [];
  let start = 0;
  let fence = null; // { char, length } of the open fence
  let previousBlank = false;
  let pos = 0;
  while (pos < text.length) {
    const newline = text.indexOf("\n", pos);
    const end = newline === -1 ? text.length : newline;
    const line = text.slice(pos, end);
    if (fence) {
      if (closesFence(fence, line)) fence = null;
      previousBlank = false;
    } else {
      const blank = line.trim() === "";
      if (previousBlank && !blank && !/^[ \t]/.test(line) && pos > start) {
        blocks.push(text.slice(start, pos));
        start = pos;
      }
      fence = opensFence(line);
      previousBlank = blank && pos > 0;
    }
    if (newline === -1) break;
    pos = newline + 1;
  }
  blocks.push(text.slice(start));
  return blocks;
}

// Link reference definitions outside code and math fences, one per line ("[label]: url 'title'"), as one string.
const DEFINITION = /^ {0,3}\[[^\]\n]+\]:[ \t]*\S+(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*$/;

function linkDefinitions(text) {
  if (!text.includes("]:")) return "";
  const found = [];
  let fence = null;
  for (const line of text.split("\n")) {
    if (fence) {
      if (closesFence(fence, line)) fence = null;
    } else if ((fence = opensFence(line)) === null && DEFINITION.test(line)) {
      found.push(line.trim());
    }
  }
  return found.join("\n");
}

// Where streamed text goes until the next render: the innermost last block of the rendered tail (its last paragraph,
// list item or code block, also inside the box that carries a code block's copy button), so that it continues the
// text it follows.
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
  window.socket.on("rooms_delta", (delta) => {
    if (!Array.isArray(delta) || delta.length < 3) return;
    const [msgid, offset, chunk] = delta;
    const bodies = window.roomsBodies.get(String(msgid));
    if (!bodies || typeof offset !== "number" || typeof chunk !== "string") return;
    for (const body of bodies) body.applyDelta(offset, chunk);
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

// Styles for the few elements we add ourselves; :where() keeps them trivially overridable by the app's CSS.
function injectStyles() {
  if (document.getElementById("rooms-message-body-style")) return;
  const style = document.createElement("style");
  style.id = "rooms-message-body-style";
  style.textContent = `
    :where(.rb .rb-code) { position: relative; }
    :where(.rb .rb-copy) { position: absolute; top: 0.25rem; right: 0.25rem; font-size: 0.75rem; padding: 0 0.4rem;
      border-radius: 0.25rem; opacity: 0.7; cursor: pointer; border: 1px solid currentColor; background: transparent; }
    :where(.rb .rb-copy:hover) { opacity: 1; }
    :where(.rb pre) { overflow-x: auto; }
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
    rev: Number, // bumped by replace_text(), so that replacing with the prop's old value still takes effect
  },
  created() {
    // Plain (non-reactive) state: Vue never re-renders the template for it, we patch the DOM ourselves.
    this.current = this.text || "";
    this.currentLength = codePointLength(this.current);
    this.live = this.streaming; // asked about in rooms_sync: streaming at render time or received a delta since
    this.doneBlocks = []; // [{ source, nodes }] rendered into .rb-done
    this.tailSource = null;
    this.definitions = ""; // link reference definitions the rendered blocks were given
    this.lastRender = 0;
    this.renderCost = 0; // ms the last render took, with its layout
    this.renderTimer = null;
    this.renderedUpTo = 0; // this.current up to here is rendered markdown (less trailing space, which markdown drops)
    this.provisional = null; // the Text node showing the text after renderedUpTo until the next render
  },
  mounted() {
    injectStyles();
    this.register(this.msgid);
    this.render();
    installSocketHandlers();
    requestSync(this.room);
  },
  unmounted() {
    this.unregister(this.msgid);
    clearTimeout(this.renderTimer);
    this.renderTimer = null;
  },
  watch: {
    text(value) {
      this.setCurrent(value || "");
    },
    rev() {
      this.setCurrent(this.text || "");
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
      this.showAtOnce();
      this.scheduleRender();
    },
    // Show the text that arrived since the last render as plain text right away, so a word's latency does not depend
    // on how long the reply is or how costly its markdown; the next render replaces it with the formatted text.
    // A Text node is never parsed as HTML: this needs no sanitising.
    showAtOnce() {
      const tailEl = this.$refs.tail;
      if (!tailEl || this.tailSource === null) return; // not rendered yet: the first render shows everything
      if (!this.provisional || !this.provisional.isConnected) {
        this.provisional = document.createTextNode("");
        appendTarget(tailEl).append(this.provisional);
      }
      this.provisional.data = this.current.slice(this.renderedUpTo);
    },
    dropProvisional() {
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
      const blocks = splitBlocks(this.current);
      const tail = blocks.pop();
      const definitions = linkDefinitions(this.current);
      if (definitions !== this.definitions) {
        // a reference defined by new text may be used by any block: render them all again
        this.definitions = definitions;
        for (const old of this.doneBlocks.splice(0)) for (const node of old.nodes) node.remove();
        this.tailSource = null;
      }
      // Keep the DOM of every finished block that is unchanged; re-render from the first one that differs.
      let same = 0;
      while (same < blocks.length && same < this.doneBlocks.length && blocks[same] === this.doneBlocks[same].source) {
        same++;
      }
      for (const old of this.doneBlocks.splice(same)) for (const node of old.nodes) node.remove();
      for (const source of blocks.slice(same)) {
        const fragment = renderMarkdown(source, definitions);
        const nodes = [...fragment.childNodes];
        doneEl.append(fragment); // adopts the nodes into the page only now, after images were replaced
        this.doneBlocks.push({ source, nodes });
      }
      if (tail !== this.tailSource) {
        tailEl.replaceChildren(renderMarkdown(tail, definitions));
        this.tailSource = tail;
      }
      this.renderedUpTo = withoutTrailingSpace(this.current);
      this.$el.dispatchEvent(new CustomEvent("rooms:rendered", { bubbles: true }));
      void tailEl.offsetHeight; // the layout the next frame would do anyway, done now so that its cost is counted
      this.renderCost = performance.now() - started;
    },
    renderAgain() {
      // KaTeX or highlight.js arrived: finished blocks from the first one still showing TeX or uncoloured code on
      // are rendered again; the ones before it keep their DOM.
      const pending = ".rb-math:not(.rb-math-done), pre code[class*='language-']:not(.hljs)";
      const stale = (node) =>
        node.nodeType === Node.ELEMENT_NODE && (node.matches(pending) || node.querySelector(pending) !== null);
      const first = this.doneBlocks.findIndex((block) => block.nodes.some(stale));
      if (first >= 0) for (const old of this.doneBlocks.splice(first)) for (const node of old.nodes) node.remove();
      this.tailSource = null;
      this.render();
    },
    async onClick(event) {
      const button = event.target.closest?.(".rb-copy");
      if (!button || !this.$el.contains(button)) return;
      const code = button.parentElement?.querySelector("pre");
      if (!code) return;
      const ok = await copyText(code.textContent);
      button.textContent = ok ? "Copied" : "Copy";
      if (ok) setTimeout(() => (button.textContent = "Copy"), 1500);
    },
  },
};
