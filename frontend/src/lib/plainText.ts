// Markdown → the plain text a screen reader should say: the words, none of the symbols (`**`,
// `#`, table pipes, backticks), each paragraph, heading, item and table row a sentence of its
// own, cut at a word when it is long.

import { Lexer } from 'marked';
import type { Token, Tokens } from 'marked';

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Text tokens keep the entities as typed ("&amp;"); a reader should hear "&". */
function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code =
        name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff
        ? String.fromCodePoint(code)
        : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

function inlineText(tokens: Token[]): string {
  return tokens
    .map((token) => {
      switch (token.type) {
        case 'image':
          return `Image: ${(token as Tokens.Image).text}`;
        case 'br':
          return ' ';
        case 'codespan':
        case 'escape':
        case 'html':
          return (token as Tokens.Codespan).text;
        default:
          if ('tokens' in token && Array.isArray(token.tokens)) return inlineText(token.tokens);
          return 'text' in token && typeof token.text === 'string'
            ? decodeEntities(token.text)
            : '';
      }
    })
    .join('');
}

/** Ends a piece of text as a sentence, so a reader pauses between pieces. */
function sentence(text: string): string {
  const trimmed = text.replace(/\s+/g, ' ').trim();
  if (trimmed === '') return '';
  return /[.!?:;…]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function blockSentences(tokens: Token[]): string[] {
  return tokens.flatMap((token): string[] => {
    switch (token.type) {
      case 'space':
      case 'hr':
        return [];
      case 'code': {
        const language = (token as Tokens.Code).lang?.trim().split(/\s+/)[0] ?? '';
        return [language === '' ? 'Code block.' : `Code block in ${language}.`];
      }
      case 'list':
        return (token as Tokens.List).items.flatMap((item) => blockSentences(item.tokens));
      case 'blockquote':
        return blockSentences((token as Tokens.Blockquote).tokens);
      case 'table': {
        const table = token as Tokens.Table;
        return [table.header, ...table.rows].map((row) =>
          sentence(row.map((cell) => inlineText(cell.tokens).trim()).join(', ')),
        );
      }
      default:
        if ('tokens' in token && Array.isArray(token.tokens)) {
          return [sentence(inlineText(token.tokens))];
        }
        return 'text' in token && typeof token.text === 'string' ? [sentence(token.text)] : [];
    }
  });
}

/** The words of a markdown text, without its symbols. */
export function markdownToPlainText(markdown: string): string {
  const tokens = Lexer.lex(markdown, { gfm: true, breaks: true });
  return blockSentences(tokens)
    .filter((piece) => piece !== '')
    .join(' ');
}

/** `text` cut to at most `maxChars` (plus "…"), at the end of a word where there is one near. */
export function truncateAtWord(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.slice(0, maxChars);
  const lastSpace = cut.lastIndexOf(' ');
  const atWord = lastSpace > maxChars * 0.6 ? cut.slice(0, lastSpace) : cut;
  return `${atWord.replace(/[\s,.;:!?-]+$/, '')}…`;
}
