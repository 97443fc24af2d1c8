import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { renderMarkdown } from './markdown';
import { endsInOpenFence, remend } from './remend';

function fragment(html: string): HTMLElement {
  const div = document.createElement('div');
  div.innerHTML = html;
  return div;
}

/** What a reader sees of rendered markdown, code left out (code shows its symbols as typed). */
function proseOf(markdown: string): { text: string; root: HTMLElement } {
  const root = fragment(renderMarkdown(markdown));
  const copy = root.cloneNode(true) as HTMLElement;
  for (const code of copy.querySelectorAll('pre, code')) code.remove();
  return { text: copy.textContent, root };
}

describe('remend: cut-off markdown is completed', () => {
  it.each([
    ['**bold ', '**bold** '],
    ['**bold', '**bold**'],
    ['a *it', 'a *it*'],
    ['_it', '_it_'],
    ['snake_case and _it', 'snake_case and _it_'],
    ['~~gone', '~~gone~~'],
    ['***both', '***both***'],
    ['**bold *it', '**bold *it***'],
    ['**bold** and *it', '**bold** and *it*'],
    ['line one **bold\nline two', 'line one **bold\nline two**'],
    ['- **bold', '- **bold**'],
    ['> quoted **bo', '> quoted **bo**'],
    ['## A **head', '## A **head**'],
    ['**bold**\n- item *it', '**bold**\n- item *it*'],
    ['**bold*', '**bold**'],
  ])('closes open emphasis: %j → %j', (input, expected) => {
    expect(remend(input)).toBe(expected);
  });

  it.each([
    ['**', ''],
    ['text **', 'text '],
    ['text ~~', 'text '],
    ['**bold *', '**bold** '],
    ['use `', 'use '],
  ])('drops a marker with nothing after it yet: %j → %j', (input, expected) => {
    expect(remend(input)).toBe(expected);
  });

  it.each([
    ['use `co', 'use `co`'],
    ['**see `co', '**see `co`**'],
    ['a `**` b **c', 'a `**` b **c**'],
    ['a ``x ` y', 'a ``x ` y``'],
  ])('closes an open code span and leaves what is in it: %j → %j', (input, expected) => {
    expect(remend(input)).toBe(expected);
  });

  it.each([
    ['[docs](https://exa', 'docs'],
    ['see [docs](https://exa', 'see docs'],
    ['**see [docs](htt', '**see docs**'],
    ['[**bold** docs](', '**bold** docs'],
    ['![a cat](https://x', 'a cat'],
    ['see [do', 'see do'],
    ['see [', 'see '],
  ])('shows a half-written link as its text: %j → %j', (input, expected) => {
    expect(remend(input)).toBe(expected);
  });

  it.each([
    ['| a | b |', ''],
    ['| a | b |\n', '\n'],
    ['Intro\n| a | b |', 'Intro'],
    ['Intro\n| a | b |\n| --', 'Intro'],
    ['| a | b |\n|', ''],
    ['| a | b |\n| --- | :', ''],
    ['| a | b |\n| --- | --- |\n| 1 | **2', '| a | b |\n| --- | --- |\n| 1 | **2**'],
  ])('hides table rows until the header and delimiter row are there: %j → %j', (input, out) => {
    expect(remend(input)).toBe(out);
  });

  it.each([
    ['- item\n  -', '- item'],
    ['- item\n  - ', '- item'],
    ['- item\n-', '- item'],
    ['Text\n-', 'Text'],
    ['Text\n--', 'Text'],
    ['1. one\n2.', '1. one'],
    ['1. one\n2. ', '1. one'],
    ['- ', ''],
    ['##', ''],
    ['Intro\n\n#', 'Intro\n'],
  ])('drops a lone list or heading marker: %j → %j', (input, expected) => {
    expect(remend(input)).toBe(expected);
  });

  it.each([
    ['```js\nconst a = 1', '```js\nconst a = 1\n```'],
    ['```js\n**not bold', '```js\n**not bold\n```'],
    ['```js\ncode\n``', '```js\ncode\n```'],
    ['```js\ncode\n', '```js\ncode\n```'],
    ['```', '```\n```'],
    ['~~~~\nx = `a', '~~~~\nx = `a\n~~~~'],
    ['1. Run:\n   ```sh\n   ls', '1. Run:\n   ```sh\n   ls\n   ```'],
    ['```\n**x**\n```\n**after', '```\n**x**\n```\n**after**'],
  ])('closes an open code fence and touches nothing inside: %j → %j', (input, expected) => {
    expect(remend(input)).toBe(expected);
  });

  it('knows when the text ends inside a fence', () => {
    expect(endsInOpenFence('a\n```js\nx')).toBe(true);
    expect(endsInOpenFence('a\n```js\nx\n```')).toBe(false);
    expect(endsInOpenFence('a ``` b')).toBe(false);
  });
});

const COMPLETE_DOCUMENTS = [
  '',
  'Plain text.',
  '**Bold**, *italic*, _also italic_, ~~struck~~ and `code`.',
  'snake_case_names and 2 * 3 = 6 and a_b_c',
  '# Title\n\n## Section\n\nText under it.',
  '- one\n- two\n  - nested\n    - deeper\n- three',
  '1. first\n2. second\n\n3) third',
  '| a | b |\n| --- | :-: |\n| 1 | **2** |\n| `|` | x |',
  '[a link](https://example.com/a_b*c) and ![an image](https://example.com/x.png)',
  '> A quote with **bold**\n> over two lines.',
  '```python\ndef f(x):\n    return x ** 2  # **not bold\n```',
  '```\n| not | a table |\n- not a list\n```\n\nAfter.',
  'Escaped \\*stars\\* and \\_underscores\\_ and \\`ticks\\`.',
  'Text\n\n---\n\nMore text',
  'Line one  \nline two\n',
  'A [reference] in brackets and an array[0] index.',
];

describe('remend: complete markdown passes through unchanged', () => {
  it.each(COMPLETE_DOCUMENTS.map((doc) => [doc]))('%j', (doc) => {
    expect(remend(doc)).toBe(doc);
  });
});

// Answers written the way models write them: every prefix of each is a moment of streaming.
const STREAMED_ANSWERS = [
  'Here is **the plan** for *today*:\n\n- **Wake** up\n  - stretch\n  - coffee\n- Work _hard_\n\nDone.',
  '## Results\n\n| Name | Score |\n| --- | --- |\n| **Ada** | 10 |\n| Bob | 7 |\n\nThat is all.',
  '1. First\n2. Second with `code`\n3. Third with [a link](https://example.com/docs)\n\nEnd.',
  'Run this:\n\n```sh\necho "**not bold** | not a table"\n```\n\nThen **check** the output.',
  '### Notes\n\n> Quoted ~~old~~ **new** text\n\nSee ![the chart](https://example.com/c.png).',
];

describe('remend: property: no prefix of a streamed answer renders raw markdown', () => {
  it.each(STREAMED_ANSWERS.map((answer) => [answer]))('%j', (answer) => {
    const finalHeadings = [...proseOf(answer).root.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(
      (h) => `${h.tagName}:${h.textContent}`,
    );
    for (let end = 0; end <= answer.length; end += 1) {
      const prefix = answer.slice(0, end);
      const { text, root } = proseOf(remend(prefix));
      const where = `after ${JSON.stringify(prefix)}`;
      expect(text, where).not.toMatch(/\*|~~|`|\||\[|\]\(|(^|\n)\s*(-|\d+\.)\s*$/);
      // A heading seen while streaming is one the answer ends with, as written so far.
      for (const heading of root.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
        const seen = `${heading.tagName}:${heading.textContent}`;
        expect(
          finalHeadings.some((h) => h.startsWith(seen)),
          `${where}: ${seen}`,
        ).toBe(true);
      }
    }
  });
});

describe('remend: property: code is never changed inside a fence', () => {
  it('keeps every finished line of an open fence as written, then closes it', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.constantFrom('**', '*', '_', '`', '[a](b', '| x |', '- ', '1.', '#', 'x', ' '),
          {
            maxLength: 30,
          },
        ),
        fc.array(fc.constantFrom('\n', 'y'), { maxLength: 3 }),
        (pieces, tail) => {
          const text = `\`\`\`md\n${pieces.join('')}${tail.join('')}`;
          // The pieces can close the fence themselves (three backticks, then a new line): this
          // property is about a fence still open.
          fc.pre(endsInOpenFence(text));
          const completed = remend(text);
          const finished = text.slice(0, text.lastIndexOf('\n'));
          expect(completed.startsWith(finished)).toBe(true);
          expect(completed.endsWith('\n```')).toBe(true);
          expect(endsInOpenFence(completed)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never fails and only ever changes the end of the text', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.constantFrom(
            '**',
            '*',
            '_',
            '~~',
            '`',
            '[',
            '](',
            ')',
            '|',
            '- ',
            '1. ',
            '#',
            'w',
            ' ',
            '\n',
          ),
          { maxLength: 40 },
        ),
        (pieces) => {
          const text = pieces.join('');
          const completed = remend(text);
          // Everything before the last paragraph's start is kept as it was.
          const lastBreak = text.trimEnd().lastIndexOf('\n\n');
          if (lastBreak !== -1 && !endsInOpenFence(text)) {
            expect(completed.startsWith(text.slice(0, lastBreak))).toBe(true);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
