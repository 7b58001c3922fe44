// Markdown → sanitised DOM, and nothing else: text in, an inert DocumentFragment out; no socket, no component state.
//
// Served as a NiceGUI library (message_body.py's `dependencies`), importable as "markdown" through the page's import
// map, like "marked" (chat/ui/lib/marked.esm.js); "dompurify" is NiceGUI's own entry.
import { Lexer, Marked, Parser } from "marked";
import createDOMPurify from "dompurify";

export function escapeHtml(text) {
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
  tokenizer: {
    // A bare e-mail address stays text (<mailto:a@b.example> and [a](mailto:...) still link): every link is an inline
    // box of its own, and Chromium lays out a paragraph of hundreds of them (a log, a list of addresses, the
    // benchmark's words) in time that grows faster than its length at every streamed word. URLs still link.
    url(src) {
      const match = this.rules.inline.url.exec(src);
      return match && match[2] === "@" ? undefined : false; // false: marked's own tokenizer
    },
  },
});

// Math: $...$ inside text and $$...$$ blocks become placeholders holding the TeX as text; after sanitising,
// KaTeX (loaded only when a message has math) turns them into MathML. "$5 and $10" stays text, like in Pandoc:
// no blank after the opening $, none before the closing one, and no digit right after it.
const INLINE_MATH = /^\$(?=[^\s$])((?:\\.|[^\\$\n])*?[^\s\\$]|[^\s$])\$(?!\d)/;
const BLOCK_MATH = /^\$\$([\s\S]+?)\$\$[ \t]*(?:\n|$)/;
// A line that opens a $$ block not closed yet (an odd number of $$ on it): the formula may hold blank lines, so the
// rest of the text stays one block until the closing $$ comes; meanwhile it shows as the TeX typed so far.
const OPEN_MATH = /^\$\$[^\n]*/;
const firstIndex = (index) => (index >= 0 ? index : undefined);
markdown.use({
  extensions: [
    {
      name: "mathBlock",
      level: "block",
      // only where a line starts: a paragraph cut in the middle of a line would have marked change its raw text
      start(src) {
        const index = src.search(/\n\$\$/);
        return index >= 0 ? index + 1 : undefined;
      },
      tokenizer(src, tokens) {
        const match = BLOCK_MATH.exec(src);
        if (match) return { type: "mathBlock", raw: match[0], text: match[1].trim() };
        // marked also tries block extensions where a paragraph was cut at a "$$" in the middle of a line
        const atLineStart = !tokens?.length || tokens[tokens.length - 1].raw.endsWith("\n");
        const line = OPEN_MATH.exec(src)?.[0];
        if (atLineStart && line && line.split("$$").length % 2 === 0) {
          return { type: "mathBlock", raw: src, text: src, open: true };
        }
      },
      renderer: (token) =>
        token.open
          ? `<p class="rb-math-open">${escapeHtml(token.text.replace(/\n+$/, "")).replace(/\n/g, "<br>")}</p>\n`
          : `<div class="rb-math rb-math-block">${escapeHtml(token.text)}</div>\n`,
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

// ---------------------------------------------------------------------------------------------------------------
// Blocks: marked's own lexer says where they end.

// Split `text` into finished blocks and the unfinished tail. A block is finished once a blank line and a line that
// starts without indentation follow it (an indented line could still continue a list item or an indented code
// block; a fence or an open $$ keeps everything after it in one token until it closes). A boundary needs the next
// line's first character, so an unfinished block stays in the tail. Sources partition the text exactly.
// `definitions` are the link reference definitions ("[d]: https://...") found at the top level.
// `tailParagraph`: the inline source of the tail when it is one paragraph, else null (see lexInline); `links`: the
// reference definitions as marked keeps them. Only the block level is lexed here: a tail's inline tokens are the
// caller's to lex, from as far back as it needs.
export function splitBlocks(text) {
  if (text.includes("\r")) return { blocks: [], tail: text, definitions: [], links: {}, tailParagraph: null };
  const lexer = new Lexer(markdown.defaults);
  const tokens = lexer.blockTokens(text, []);
  const blocks = [];
  const definitions = [];
  let current = "";
  let tailStart = 0;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    current += token.raw;
    if (token.type === "def") definitions.push(token.raw.trim());
    const next = tokens[i + 1];
    // leading blank lines make a block of their own (it renders as nothing)
    if (token.type === "space" && (token.raw.includes("\n\n") || i === 0) && next && /^[^ \t\n]/.test(next.raw)) {
      blocks.push(current);
      current = "";
      tailStart = i + 1;
    }
  }
  const links = lexer.tokens.links;
  // marked's raws add up to the text (checked, so that a parser quirk only costs speed): else no block is final
  if (blocks.reduce((length, block) => length + block.length, current.length) !== text.length) {
    return { blocks: [], tail: text, definitions, links, tailParagraph: null };
  }
  const tail = tokens.slice(tailStart).filter((t) => t.type !== "space");
  const tailParagraph = tail.length === 1 && tail[0].type === "paragraph" ? tail[0].text : null;
  return { blocks, tail: current, definitions, links, tailParagraph };
}

// The inline tokens of `source` (a paragraph's text, or the part of it after a settled token), resolving
// references with `links` (from splitBlocks, or linksOf).
export function lexInline(source, links) {
  const lexer = new Lexer(markdown.defaults);
  Object.assign(lexer.tokens.links, links);
  return lexer.inlineTokens(source, []);
}

export function linksOf(definitions) {
  return definitions.length ? markdown.lexer(definitions.join("\n")).links : {};
}

// An inline token that text after it cannot change: no delimiter that a later one could close or extend. Lexing
// a growing paragraph may start again after such tokens (ending in a blank, so that no flanking rule looks back).
const UNSETTLED = /[*_~`[\]$<>&\\!|]/;
export function isSettled(token) {
  return (token.type === "text" || token.type === "link" || token.type === "br") && !UNSETTLED.test(token.raw);
}

// Inline tokens as one sanitised fragment, and which of its nodes each token made: `groups[i]` lists the nodes of
// `tokens[i]`, so that a caller can keep the nodes of tokens that did not change and replace only the others.
const MARK = '<span class="rb-mark"></span>';
export function renderInline(tokens) {
  let html = "";
  for (const token of tokens) html += MARK + Parser.parseInline([token], markdown.defaults);
  const fragment = sanitize(html);
  const groups = [];
  for (const node of [...fragment.childNodes]) {
    if (node.nodeType === Node.ELEMENT_NODE && node.className === "rb-mark") {
      groups.push([]);
      node.remove();
    } else if (groups.length) {
      groups[groups.length - 1].push(node);
    }
  }
  if (groups.length !== tokens.length) return null; // sanitising moved a mark: the caller renders the whole block
  return { fragment, groups };
}

// The HTML of one inline token, before sanitising: only to tell whether a grown text token is plain text appended.
export function inlineHtml(token) {
  return Parser.parseInline([token], markdown.defaults);
}

// `definitions`: the reply's link reference definitions, appended to every block so that a reference resolves
// whichever block defines it (they render as nothing).
export function renderMarkdown(source, definitions = []) {
  try {
    const text = definitions.length ? `${source}\n\n${definitions.join("\n")}\n` : source;
    return sanitize(markdown.parse(text));
  } catch (error) {
    // Never leave a message blank or half-rendered because of a parser bug: fall back to plain text.
    console.error("markdown: rendering failed", error);
    const fragment = document.createDocumentFragment();
    const p = document.createElement("p");
    p.textContent = source;
    fragment.append(p);
    return fragment;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sanitising: DOMPurify with an allow-list of what marked produces.

// Our own DOMPurify instance (made on first use): hooks and settings here must not leak into NiceGUI's shared one.
let purify = null;

// Only http(s) and mailto schemes, plus scheme-less values (relative links, and plain attribute values such as
// align="center" or start="2", which DOMPurify also checks against this expression). Everything else (javascript:,
// data:, vbscript:, file:, ...) is dropped. Same shape as DOMPurify's default expression, fewer schemes.
const SAFE_URL = /^(?:(?:https?|mailto):|[^a-z]|[a-z+.\-]+(?:[^a-z+.\-:]|$))/i;
// DOMPurify removes these characters before testing a URL; browsers ignore them inside schemes ("java\tscript:").
const URL_IGNORED_CHARS = /[\u0000-\u0020\u00A0\u1680\u180E\u2000-\u2029\u205F\u3000]/g;

export const PURIFY_CONFIG = {
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

function sanitize(html) {
  if (!purify) {
    purify = createDOMPurify(window);
    purify.addHook("uponSanitizeAttribute", (_node, data) => {
      if (data.attrName.startsWith("on")) data.keepAttr = false; // no event handler, whatever the allow-list says
    });
  }
  return finishFragment(purify.sanitize(html, PURIFY_CONFIG));
}

export function isSafeUrl(url) {
  return SAFE_URL.test(url.replace(URL_IGNORED_CHARS, ""));
}

const LINK_REL = "noopener noreferrer nofollow";

// Post-process a sanitised fragment (still inert): images become links, links open in a new tab without referrer,
// math is typeset, code blocks get a header with their language and a copy button, tables a box that scrolls.
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
    const code = pre.querySelector("code");
    highlight(code);
    const box = doc.createElement("div");
    box.className = "rb-code";
    const head = doc.createElement("div");
    head.className = "rb-code-head";
    const label = doc.createElement("span");
    label.className = "rb-code-lang";
    label.textContent = languageOf(code) || "text";
    const button = doc.createElement("button");
    button.type = "button";
    button.className = "rb-copy";
    button.setAttribute("data-testid", "code-copy");
    button.setAttribute("aria-label", "Copy code");
    button.textContent = "Copy";
    head.append(label, button);
    scrollRegion(pre, `Code${languageOf(code) ? ` (${label.textContent})` : ""}`);
    pre.replaceWith(box);
    box.append(head, pre);
  }
  for (const table of fragment.querySelectorAll("table")) {
    const box = doc.createElement("div");
    box.className = "rb-table";
    scrollRegion(box, "Table");
    table.replaceWith(box);
    box.append(table);
  }
  return fragment;
}

// A box that may scroll sideways (a long code line, a wide table) can be reached and scrolled with the keyboard.
function scrollRegion(element, name) {
  element.setAttribute("tabindex", "0");
  element.setAttribute("role", "region");
  element.setAttribute("aria-label", name);
}

function languageOf(code) {
  return /(?:^|\s)language-([\w+#-]+)/.exec(code?.className ?? "")?.[1];
}

// ---------------------------------------------------------------------------------------------------------------
// KaTeX and highlight.js load only once a message needs them (most pages never do); then `onLoaded` callbacks run,
// so that whoever rendered without them can render again.

const loadedCallbacks = new Set();
export function onLibraryLoaded(callback) {
  loadedCallbacks.add(callback);
  return () => loadedCallbacks.delete(callback);
}
function loaded() {
  for (const callback of loadedCallbacks) callback();
}

export const PENDING_SELECTOR = ".rb-math:not(.rb-math-done), pre code[class*='language-']:not(.hljs)";

let katex = null;
let katexLoading = null;
function typeset(element) {
  if (!katex) {
    katexLoading ??= import("katex").then((module) => {
      katex = module.default;
      loaded();
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
    console.warn("markdown: math failed", error);
  }
}

// Fenced code with a known language gets highlight.js colours. It reads the code's text and writes only
// escaped text in <span class="hljs-..."> elements, so the sanitised fragment stays safe.
let hljs = null;
let hljsLoading = null;
function highlight(code) {
  const language = languageOf(code);
  if (!language) return;
  if (!hljs) {
    hljsLoading ??= import("hljs").then((module) => {
      hljs = module.default;
      hljs.configure({ ignoreUnescapedHTML: true });
      loaded();
    });
    return;
  }
  if (!hljs.getLanguage(language)) return;
  try {
    hljs.highlightElement(code);
  } catch (error) {
    console.warn("markdown: highlighting failed", error);
  }
}
