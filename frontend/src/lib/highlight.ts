// Syntax highlighting of code blocks, loaded lazily, each finished block highlighted once.
//
// highlight.js rather than Shiki: it returns escaped text in class-named spans, synchronously,
// so the colours come from our stylesheet (light and dark alike, and allowed by the CSP's
// `style-src 'self'`, which refuses Shiki's inline `style` attributes, as DOMPurify's config
// does), and its core plus two dozen languages is a fraction of Shiki's grammars and regex
// engine. The highlighter (src/lib/highlighter.ts) is a dynamic import: a chunk of its own,
// fetched when the first code block appears.

import { scheduleFrame } from './frame';
import { sanitizeHtml } from './markdown';

export type Highlight = (code: string, language: string) => string | null;

let highlighter: Highlight | null = null;
let loading: Promise<Highlight | null> | null = null;
const listeners = new Set<() => void>();

/** Starts loading the highlighter (once); resolves to it, or null if its chunk failed to load. */
export function loadHighlighter(): Promise<Highlight | null> {
  loading ??= import('./highlighter').then(
    (module) => {
      highlighter = module.highlight;
      // The blocks on screen are told at the next frame: while an answer is being written,
      // their colours come in the same React commit as its text, not in one of their own.
      scheduleFrame(() => {
        for (const listener of listeners) listener();
      });
      return highlighter;
    },
    // Code stays readable, just plain; the next page load tries again.
    () => null,
  );
  return loading;
}

/** The highlighter once loaded, else null (for useSyncExternalStore). */
export function currentHighlighter(): Highlight | null {
  return highlighter;
}

export function subscribeHighlighter(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const CACHE_LIMIT = 200;
const cache = new Map<string, string | null>();
let highlightCount = 0;

/**
 * Sanitised, highlighted HTML for a finished code block; null when its language is unknown.
 * A block already highlighted comes from the cache, so a block whose text did not change is
 * never highlighted again (when the answer finishes, or the conversation is opened again).
 */
export function highlightCode(highlight: Highlight, code: string, language: string): string | null {
  const key = `${language}\n${code}`;
  if (cache.has(key)) {
    const cached = cache.get(key) ?? null;
    cache.delete(key);
    cache.set(key, cached);
    return cached;
  }
  highlightCount += 1;
  const raw = highlight(code, language);
  // Already escaped by highlight.js; sanitised anyway, like all HTML made from model output.
  const html = raw === null ? null : sanitizeHtml(raw);
  cache.set(key, html);
  if (cache.size > CACHE_LIMIT) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  return html;
}

/** How many code blocks were highlighted (not served from the cache): for tests. */
export function highlightedBlockCount(): number {
  return highlightCount;
}
