// Assistant text → safe HTML. Model output is untrusted: marked renders markdown with raw HTML
// shown as text, then DOMPurify keeps only harmless tags and http(s)/mailto links. Headings are
// shifted two levels down (the page's own <h1> and <h2> stay the page's); an image is a link
// that names it, never loaded; a link to any other kind of address is plain text.
//
// Long answers are split into top-level blocks so a finished block is parsed once and cached;
// while streaming only the last (growing) block is parsed again. A block comes out as parts:
// sanitised HTML, and its code blocks (top level or in a list) apart, for CodeBlock to label,
// highlight and offer to copy. The block being written is completed first (remend), so it never
// shows half-made markdown.

import DOMPurify from 'dompurify';
import { Marked, Parser } from 'marked';
import type { Token, Tokens } from 'marked';

import { endsInOpenFence, remend } from './remend';

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** The model's `#` is the answer's top heading, one level under the page's `<h2>`s. */
const HEADING_SHIFT = 2;

const SAFE_URL = /^(?:https?:|mailto:)/i;
const WEB_URL = /^https?:/i;

function isSafeUrl(href: string): boolean {
  return SAFE_URL.test(href.trim());
}

/** The address as an attribute value, or null when it cannot be one. */
function hrefAttribute(href: string): string | null {
  try {
    return escapeHtml(encodeURI(href.trim()).replace(/%25/g, '%'));
  } catch {
    return null;
  }
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    heading({ tokens, depth }) {
      const level = Math.min(depth + HEADING_SHIFT, 6);
      return `<h${level}>${this.parser.parseInline(tokens)}</h${level}>\n`;
    },
    // Only web and mail addresses are links; anything else (javascript:, data:, …) is its text,
    // so nothing looks clickable that does nothing.
    link({ href, title, tokens }) {
      const text = this.parser.parseInline(tokens);
      const attribute = isSafeUrl(href) ? hrefAttribute(href) : null;
      if (attribute === null) return text;
      const titled = title ? ` title="${escapeHtml(title)}"` : '';
      return `<a href="${attribute}"${titled}>${text}</a>`;
    },
    // An image would be fetched from wherever the model says, telling that server the
    // conversation is being read: it is shown as a link that names it instead, never loaded.
    image({ href, tokens }) {
      const alt = this.parser.parseInline(tokens, this.parser.textRenderer);
      const label = escapeHtml(`Image: ${alt.trim() || 'no description'}`);
      const attribute = WEB_URL.test(href.trim()) ? hrefAttribute(href) : null;
      return attribute === null ? label : `<a href="${attribute}">${label}</a>`;
    },
    // "Use the <br> tag" should read as text, not become markup.
    html({ text }) {
      return escapeHtml(text);
    },
    // Code in a quote (elsewhere code is a CodeBlock): a long line scrolls sideways, so the
    // keyboard must be able to reach it.
    code({ text, lang }) {
      const label = `${languageOf(lang) || 'text'} code`;
      const body = `${escapeHtml(text.replace(/\n$/, ''))}\n`;
      return `<pre tabindex="0" role="group" aria-label="${escapeHtml(label)}"><code>${body}</code></pre>\n`;
    },
  },
});

/** The language a fence names ("```python title=x" → "python"), lower case; "" for none. */
export function languageOf(info: string | undefined): string {
  return (info ?? '').trim().split(/\s+/)[0]?.toLowerCase().slice(0, 32) ?? '';
}

/** Links keep only safe URLs, and open apart from the app (exported for its test). */
export function guardLink(node: Element): void {
  if (node.tagName !== 'A') return;
  const href = node.getAttribute('href') ?? '';
  if (!SAFE_URL.test(href.trim())) {
    node.removeAttribute('href');
    return;
  }
  node.setAttribute('target', '_blank');
  node.setAttribute('rel', 'noopener noreferrer nofollow');
}

// A private DOMPurify instance, so its hooks do not leak into other users of the library.
const purifier = DOMPurify(window);
purifier.addHook('afterSanitizeAttributes', guardLink);

export const PURIFY_CONFIG = {
  USE_PROFILES: { html: true },
  // No images or media: an image URL in model output is a way to leak the conversation.
  FORBID_TAGS: [
    'img',
    'picture',
    'source',
    'video',
    'audio',
    'iframe',
    'style',
    'form',
    'input',
    'button',
    'textarea',
    'select',
    'svg',
    'math',
  ],
  FORBID_ATTR: ['style', 'srcset'],
  ALLOW_DATA_ATTR: false,
  ADD_ATTR: ['target'],
};

// Set once: sanitize(html, config) would parse the configuration again on every call (each
// frame of a streaming answer), building its tag and attribute sets anew each time.
purifier.setConfig(PURIFY_CONFIG);

export function sanitizeHtml(html: string): string {
  return purifier.sanitize(html);
}

/** Markdown → sanitised HTML, not cached. */
export function renderMarkdown(text: string): string {
  return sanitizeHtml(marked.parse(text, { async: false }));
}

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})/;

/**
 * Splits markdown into top-level blocks at blank lines outside code fences, where the next
 * line starts at the left margin (indented lines continue a list item or code block).
 * Earlier blocks never change as text is appended, which is what makes them cacheable.
 */
export function splitMarkdownBlocks(text: string): string[] {
  const lines = text.split('\n');
  const blocks: string[] = [];
  let current: string[] = [];
  let fence: string | null = null;
  let sawBlank = false;
  for (const line of lines) {
    const match = FENCE_OPEN.exec(line);
    if (fence === null) {
      const isBlank = line.trim() === '';
      if (!isBlank && sawBlank && !/^\s/.test(line) && current.some((l) => l.trim() !== '')) {
        blocks.push(current.join('\n'));
        current = [];
      }
      sawBlank = isBlank;
      if (match) fence = match[1] ?? null;
    } else if (match) {
      const marker = match[1] ?? '';
      if (
        marker[0] === fence[0] &&
        marker.length >= fence.length &&
        line.trim().length === marker.length
      ) {
        fence = null;
      }
    }
    current.push(line);
  }
  blocks.push(current.join('\n'));
  return blocks;
}

export type MarkdownPart =
  | { kind: 'html'; html: string }
  /** A code block; `isOpen` while its closing fence has not been written yet. */
  | { kind: 'code'; code: string; language: string; isOpen: boolean }
  /** A list with code in it: its items are parts too, so their code is a CodeBlock as well. */
  | { kind: 'list'; ordered: boolean; start: number | ''; items: MarkdownPart[][] };

function holdsCode(token: Token): boolean {
  if (token.type === 'code') return true;
  if (token.type === 'list') return (token as Tokens.List).items.some(holdsCode);
  if (token.type === 'list_item') return (token as Tokens.ListItem).tokens.some(holdsCode);
  return false;
}

/**
 * Tokens → parts: code blocks (top level, or in a list) apart, everything between as sanitised
 * HTML. `top` is false inside a tight list item (its text is not wrapped in paragraphs).
 * `lastCodeIsOpen`: the text's last token is code still being written (its fence was closed
 * for display only), wherever it sits (at the end of the last list item, too).
 */
function partsOf(tokens: Token[], top: boolean, lastCodeIsOpen: boolean): MarkdownPart[] {
  const parts: MarkdownPart[] = [];
  let between: Token[] = [];
  const flush = () => {
    if (between.length === 0) return;
    // A parser per call: it binds the shared renderer to itself while it runs.
    const html = new Parser(marked.defaults).parse(between, top);
    parts.push({ kind: 'html', html: sanitizeHtml(html) });
    between = [];
  };
  const lastIndex = tokens.findLastIndex((token) => token.type !== 'space');
  tokens.forEach((token, index) => {
    const isLast = lastCodeIsOpen && index === lastIndex;
    if (token.type === 'code') {
      flush();
      const { text, lang } = token as Tokens.Code;
      parts.push({ kind: 'code', code: text, language: languageOf(lang), isOpen: isLast });
    } else if (token.type === 'list' && holdsCode(token)) {
      flush();
      const { ordered, start, items } = token as Tokens.List;
      parts.push({
        kind: 'list',
        ordered,
        start,
        items: items.map((item, itemIndex) =>
          partsOf(item.tokens, item.loose, isLast && itemIndex === items.length - 1),
        ),
      });
    } else if (token.type !== 'space') {
      between.push(token);
    }
  });
  flush();
  return parts;
}

/** Markdown → parts (see partsOf). */
export function renderParts(text: string, lastCodeIsOpen = false): MarkdownPart[] {
  return partsOf(marked.lexer(text), true, lastCodeIsOpen);
}

/**
 * Renders the block still being written, completed as it is becoming (remend). Code whose
 * closing fence is still to come shows as code from its first line, marked open.
 */
export function renderStreamingBlock(text: string): MarkdownPart[] {
  return renderParts(remend(text), endsInOpenFence(text));
}

const CACHE_LIMIT = 500;
const blockCache = new Map<string, MarkdownPart[]>();
let parseCount = 0;

/** Renders a finished block, from the cache when it has been rendered before. */
export function renderFinishedBlock(text: string): MarkdownPart[] {
  const cached = blockCache.get(text);
  if (cached !== undefined) {
    // Refresh its place in the least-recently-used order.
    blockCache.delete(text);
    blockCache.set(text, cached);
    return cached;
  }
  parseCount += 1;
  const parts = renderParts(text);
  blockCache.set(text, parts);
  if (blockCache.size > CACHE_LIMIT) {
    const oldest = blockCache.keys().next().value;
    if (oldest !== undefined) blockCache.delete(oldest);
  }
  return parts;
}

/** How many finished blocks were parsed (not served from the cache): for tests. */
export function finishedBlockParseCount(): number {
  return parseCount;
}
