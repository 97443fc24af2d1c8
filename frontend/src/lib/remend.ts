// Completes markdown that was cut off part way (an answer still streaming, or one stopped before
// its end) so it renders as what it is becoming, never as raw symbols: open emphasis and code
// are closed, a half-written link shows its text, a table shows once its header and delimiter
// row are both there, and a line that is only a list or heading marker waits for its text.
//
// Only the end of the text is changed, and never anything inside code: complete markdown comes
// back as it was. Pure and small: it runs on the last block (only) on every frame.

/** A code fence line: its indentation and its marker (```` ``` ```` or `~~~`, or longer). */
const FENCE = /^( *)(`{3,}|~{3,})/;

/** A line that is only a list item's marker ("-", "  *", "2.") or a heading's ("##"). */
const DANGLING_MARKER = /^\s*(?:[-*+]|\d{1,9}[.)]|-{2}|#{1,6})\s*$/;

/** A table row, by its leading pipe (how models write tables). */
const TABLE_ROW = /^ {0,3}\|/;

/** Where a line's own text starts: after a quote's `>`, a list or heading marker. */
const LINE_PREFIX = /^\s*(?:>\s?)*(?:(?:[-*+]|\d{1,9}[.)])\s+|#{1,6}\s+)?/;

/** A line that begins a block of its own, so inline markup never runs on from above it. */
const BLOCK_START = /^\s*(?:>|(?:[-*+]|\d{1,9}[.)])(?:\s|$)|#{1,6}(?:\s|$)|\|)/;

interface OpenFence {
  indent: string;
  marker: string;
  /** Index of the fence's opening line. */
  line: number;
}

/** Index of the first line after the last closed fence; and the fence still open, if any. */
function scanFences(lines: string[]): { proseStart: number; open: OpenFence | null } {
  let open: OpenFence | null = null;
  let proseStart = 0;
  lines.forEach((line, index) => {
    const match = FENCE.exec(line);
    if (open === null) {
      if (match) open = { indent: match[1] ?? '', marker: match[2] ?? '```', line: index };
    } else if (match && isClosingFence(line, open.marker)) {
      open = null;
      proseStart = index + 1;
    }
  });
  return { proseStart, open };
}

function isClosingFence(line: string, marker: string): boolean {
  const trimmed = line.trim();
  return trimmed.length >= marker.length && trimmed === (marker[0] ?? '`').repeat(trimmed.length);
}

/** Whether the text ends inside a code fence whose closing fence has not been written. */
export function endsInOpenFence(text: string): boolean {
  return scanFences(text.split('\n')).open !== null;
}

function closeFence(lines: string[], fence: OpenFence): string {
  const body = lines.slice();
  const last = body.at(-1) ?? '';
  const fenceChar = fence.marker[0] ?? '`';
  // A closing fence half written ("``") is not code; nor is the newline the fence will follow.
  if (body.length - 1 > fence.line && (last.trim() === '' || /^\s*[`~]+\s*$/.test(last))) {
    if (last.trim() === '' || last.trim()[0] === fenceChar) body.pop();
  }
  body.push(fence.indent + fence.marker);
  return body.join('\n');
}

/** The cells of a table row, without its outer pipes. */
function cellsOf(row: string): string[] {
  const inner = row
    .trim()
    .replace(/^\|/, '')
    .replace(/(?<!\\)\|$/, '');
  return inner.split(/(?<!\\)\|/);
}

function isDelimiterRow(row: string, header: string): boolean {
  const cells = cellsOf(row);
  return (
    cells.length === cellsOf(header).length && cells.every((cell) => /^\s*:?-+:?\s*$/.test(cell))
  );
}

/**
 * Drops trailing lines that would render as something they are not yet: a lone list or heading
 * marker (a lone "-" under a line would make it a heading), and table rows while the table has
 * no header and delimiter row (until then they are a paragraph of pipes).
 */
function dropUnfinishedLines(lines: string[], proseStart: number): string[] {
  const kept = lines.slice();
  for (;;) {
    const last = kept.at(-1);
    if (kept.length <= proseStart || last === undefined) return kept;
    // A blank line ends the paragraph above: what is above it stays as it was.
    if (last.trim() === '') return kept;
    if (DANGLING_MARKER.test(last)) {
      kept.pop();
      continue;
    }
    let first = kept.length;
    while (first > proseStart && TABLE_ROW.test(kept[first - 1] ?? '')) first -= 1;
    const header = kept[first];
    const delimiter = kept[first + 1];
    const isTable = header !== undefined && delimiter !== undefined;
    if (first < kept.length && !(isTable && isDelimiterRow(delimiter, header))) {
      kept.length = first;
      continue;
    }
    return kept;
  }
}

/** Offset where the inline text of the last paragraph, list item, heading or cell begins. */
function inlineStart(lines: string[], proseStart: number): number {
  let first = lines.length - 1;
  const last = lines[first] ?? '';
  if (TABLE_ROW.test(last)) {
    // A row: only its last cell is still being written.
    return offsetOfLine(lines, first) + lastUnescapedPipe(last) + 1;
  }
  while (first > proseStart) {
    const line = lines[first] ?? '';
    if (BLOCK_START.test(line)) break;
    const above = lines[first - 1] ?? '';
    if (above.trim() === '' || TABLE_ROW.test(above) || FENCE.test(above)) break;
    first -= 1;
  }
  const prefix = LINE_PREFIX.exec(lines[first] ?? '')?.[0].length ?? 0;
  return offsetOfLine(lines, first) + prefix;
}

function lastUnescapedPipe(line: string): number {
  for (let i = line.length - 1; i >= 0; i -= 1) {
    if (line[i] === '|' && line[i - 1] !== '\\') return i;
  }
  return -1;
}

function offsetOfLine(lines: string[], index: number): number {
  let offset = 0;
  for (let i = 0; i < index; i += 1) offset += (lines[i] ?? '').length + 1;
  return offset;
}

interface Delimiter {
  marker: string;
  at: number;
}

const isSpace = (ch: string | undefined) => ch === undefined || /\s/.test(ch);
const isWordChar = (ch: string | undefined) => ch !== undefined && /[\p{L}\p{N}]/u.test(ch);

/**
 * Completes the inline markup of `s`, the text of the last paragraph (or item, heading, cell):
 * closes emphasis and code spans, shows a half-written link as its text, drops a delimiter or
 * bracket that has nothing after it yet.
 */
function completeInline(s: string): string {
  const open: Delimiter[] = [];
  const brackets: number[] = [];
  /** Removed from the end: a marker with nothing after it yet. */
  let cutAt = s.length;
  let closeCode = '';
  let halfLink: { start: number; text: string } | null = null;

  let i = 0;
  scan: while (i < s.length) {
    const ch = s[i] ?? '';
    if (ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === '`') {
      let n = 1;
      while (s[i + n] === '`') n += 1;
      const run = '`'.repeat(n);
      const close = findRun(s, run, i + n);
      if (close !== -1) {
        i = close + n;
        continue;
      }
      // A code span still being written: the rest is code.
      if (s.slice(i + n).trim() === '') cutAt = i;
      else closeCode = run;
      break;
    }
    if (ch === '[') {
      brackets.push(i);
      i += 1;
      continue;
    }
    if (ch === ']' && brackets.length > 0) {
      const start = brackets.pop() ?? 0;
      if (i + 1 === s.length) {
        // "[text]": a link may follow; until then, the text.
        halfLink = { start: s[start - 1] === '!' ? start - 1 : start, text: s.slice(start + 1, i) };
        break;
      }
      if (s[i + 1] === '(') {
        const end = s.indexOf(')', i + 2);
        if (end === -1) {
          // "[text](htt": the text, not a link to half an address.
          const linkStart = s[start - 1] === '!' ? start - 1 : start;
          halfLink = { start: linkStart, text: s.slice(start + 1, i) };
          break scan;
        }
        i = end + 1;
        continue;
      }
      i += 1;
      continue;
    }
    if (ch === '*' || ch === '_' || ch === '~') {
      let n = 1;
      while (s[i + n] === ch) n += 1;
      const before = s[i - 1];
      const after = s[i + n];
      const atEnd = i + n === s.length;
      const intraword = ch === '_' && isWordChar(before) && isWordChar(after);
      if (ch === '~' && n < 2 && atEnd) {
        cutAt = i; // the first half of "~~"
      } else if (!intraword && !(ch === '~' && n < 2)) {
        let left = n;
        if (!isSpace(before)) {
          // Closes what it can, innermost first.
          while (left > 0) {
            const top = open.at(-1);
            if (top === undefined || top.marker[0] !== ch || top.marker.length > left) break;
            open.pop();
            left -= top.marker.length;
          }
        }
        if (left > 0 && atEnd) {
          cutAt = i + (n - left);
        } else if (left > 0 && !isSpace(after)) {
          const at = i + (n - left);
          if (ch === '~') open.push({ marker: '~~', at });
          else {
            if (left >= 2) open.push({ marker: ch + ch, at });
            if (left % 2 === 1) open.push({ marker: ch, at: at + (left >= 2 ? 2 : 0) });
          }
        }
      }
      i += n;
      continue;
    }
    i += 1;
  }

  let body = s;
  if (halfLink !== null) {
    body = s.slice(0, halfLink.start) + halfLink.text;
    cutAt = Math.min(cutAt, body.length);
    // Delimiters opened inside the link text stay open: they are closed below like the rest.
    const linkStart = halfLink.start;
    for (const d of open) if (d.at > linkStart) d.at -= s[linkStart] === '!' ? 2 : 1;
  } else if (brackets.length > 0 && closeCode === '') {
    // "[text" with no "]" yet: the bracket may become a link; hide it until then.
    const start = brackets.at(-1) ?? 0;
    const from = s[start - 1] === '!' ? start - 1 : start;
    if (isSpace(s[from - 1]) || from === 0) {
      body = s.slice(0, from) + s.slice(start + 1);
      if (cutAt > start) cutAt -= start + 1 - from;
      for (const d of open) if (d.at > start) d.at -= start + 1 - from;
    }
  }
  body = body.slice(0, cutAt) + closeCode;

  // An opener with nothing after it yet goes; the others are closed, innermost first.
  while (open.length > 0) {
    const top = open.at(-1);
    if (top === undefined || body.slice(top.at + top.marker.length).trim() !== '') break;
    body = body.slice(0, top.at) + body.slice(top.at + top.marker.length);
    open.pop();
  }
  const closers = open
    .map((d) => d.marker)
    .reverse()
    .join('');
  const trailing = /\s*$/.exec(body)?.[0] ?? '';
  return body.slice(0, body.length - trailing.length) + closers + trailing;
}

/** The index of `run` at or after `from` that is not part of a longer run of backticks. */
function findRun(s: string, run: string, from: number): number {
  let at = s.indexOf(run, from);
  while (at !== -1) {
    const longer = s[at + run.length] === '`' || s[at - 1] === '`';
    if (!longer) return at;
    let next = at;
    while (s[next] === '`') next += 1;
    at = s.indexOf(run, next);
  }
  return -1;
}

/** Markdown cut off part way → markdown that renders as what it is becoming. */
export function remend(text: string): string {
  const lines = text.split('\n');
  const { proseStart, open } = scanFences(lines);
  if (open !== null) return closeFence(lines, open);

  // Blank lines at the very end are kept as they are; what matters is the line above them.
  let end = lines.length;
  while (end > proseStart && (lines[end - 1] ?? '').trim() === '') end -= 1;
  const blankTail = end === lines.length ? '' : (end > 0 ? '\n' : '') + lines.slice(end).join('\n');
  const kept = dropUnfinishedLines(lines.slice(0, end), proseStart);
  // Above a dropped line and a blank one is a paragraph that had ended: nothing to complete.
  const hadEnded = kept.length < end && (kept.at(-1) ?? '').trim() === '';
  const joined = kept.join('\n');
  let completed = joined;
  if (kept.length > proseStart && !hadEnded) {
    const start = inlineStart(kept, proseStart);
    completed = joined.slice(0, start) + completeInline(joined.slice(start));
  }
  // Completing the text may leave its last line a lone marker ("- *" → "- "): that goes too.
  const lastLine = completed.slice(completed.lastIndexOf('\n') + 1);
  if (!hadEnded && completed !== '' && DANGLING_MARKER.test(lastLine)) {
    const above = completed.slice(0, Math.max(completed.lastIndexOf('\n'), 0));
    // Above a blank line, the paragraph had ended: it stays as it was.
    return (above.endsWith('\n') ? above : remend(above)) + blankTail;
  }
  return completed + blankTail;
}
