// Assistant text → safe HTML. Model output is untrusted: marked renders markdown with raw HTML
// shown as text, then DOMPurify keeps only harmless tags and http(s)/mailto links.
//
// Long answers are split into top-level blocks so a finished block is parsed once and cached;
// while streaming only the last (growing) block is parsed again. A block comes out as parts:
// sanitised HTML, and its code blocks (top level or in a list) apart, for CodeBlock to label,
// highlight and offer to copy.

import DOMPurify from 'dompurify';
import { Marked, Parser } from 'marked';
import type { Token, Tokens } from 'marked';

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
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

const SAFE_URL = /^(?:https?:|mailto:)/i;

// A private DOMPurify instance, so its hooks do not leak into other users of the library.
const purifier = DOMPurify(window);
purifier.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName !== 'A') return;
  const href = node.getAttribute('href') ?? '';
  if (!SAFE_URL.test(href.trim())) {
    node.removeAttribute('href');
    return;
  }
  node.setAttribute('target', '_blank');
  node.setAttribute('rel', 'noopener noreferrer');
});

const PURIFY_CONFIG = {
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

export function sanitizeHtml(html: string): string {
  return purifier.sanitize(html, PURIFY_CONFIG);
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

/** A fenced code token whose closing fence has not been written (yet). */
function isUnclosedFence(raw: string): boolean {
  const lines = raw.replace(/\n+$/, '').split('\n');
  const marker = FENCE_OPEN.exec(lines[0] ?? '')?.[1];
  if (marker === undefined) return false; // indented code: nothing to wait for
  const last = (lines.length > 1 ? lines.at(-1) : undefined)?.trim() ?? '';
  const closes = last.length >= marker.length && last === (marker[0] ?? '').repeat(last.length);
  return !closes;
}

/**
 * Tokens → parts: code blocks (top level, or in a list) apart, everything between as sanitised
 * HTML. `top` is false inside a tight list item (its text is not wrapped in paragraphs).
 */
function partsOf(tokens: Token[], top: boolean, isStreaming: boolean): MarkdownPart[] {
  const parts: MarkdownPart[] = [];
  let between: Token[] = [];
  const flush = () => {
    if (between.length === 0) return;
    // A parser per call: it binds the shared renderer to itself while it runs.
    const html = new Parser(marked.defaults).parse(between, top);
    parts.push({ kind: 'html', html: sanitizeHtml(html) });
    between = [];
  };
  for (const token of tokens) {
    if (token.type === 'code') {
      flush();
      const { text, lang, raw } = token as Tokens.Code;
      parts.push({
        kind: 'code',
        code: text,
        language: languageOf(lang),
        isOpen: isStreaming && isUnclosedFence(raw),
      });
    } else if (token.type === 'list' && holdsCode(token)) {
      flush();
      const { ordered, start, items } = token as Tokens.List;
      parts.push({
        kind: 'list',
        ordered,
        start,
        items: items.map((item) => partsOf(item.tokens, item.loose, isStreaming)),
      });
    } else if (token.type !== 'space') {
      between.push(token);
    }
  }
  flush();
  return parts;
}

/** Markdown → parts (see partsOf); `isStreaming` marks a code block not closed yet as open. */
export function renderParts(text: string, isStreaming = false): MarkdownPart[] {
  return partsOf(marked.lexer(text), true, isStreaming);
}

/**
 * Renders the block still being written. Code whose closing fence is still to come shows as
 * code from its first line (marked runs an unclosed fence to the end), marked open.
 */
export function renderStreamingBlock(text: string): MarkdownPart[] {
  return renderParts(text, true);
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
