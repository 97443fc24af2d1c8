import { describe, expect, it } from 'vitest';

import { markdownToPlainText, truncateAtWord } from './plainText';

describe('markdownToPlainText', () => {
  it.each([
    ['**Bold**, *italic*, ~~struck~~ and `code`', 'Bold, italic, struck and code.'],
    ['# Summary\n\nIt **works**.', 'Summary. It works.'],
    ['## Is it done?\nYes', 'Is it done? Yes.'],
    ['- one\n- two\n  - nested', 'one. two. nested.'],
    ['1. First step\n2. Second step', 'First step. Second step.'],
    ['| Name | Score |\n| --- | --- |\n| **Ada** | 10 |', 'Name, Score. Ada, 10.'],
    ['See [the docs](https://example.com) and <https://x.dev>', 'See the docs and https://x.dev.'],
    ['![A cat](https://example.com/c.png)', 'Image: A cat.'],
    ['> Quoted _words_', 'Quoted words.'],
    ['Run:\n\n```python\nprint("**")\n```', 'Run: Code block in python.'],
    ['Fish &amp; chips, 3 &lt; 4, &#x41;', 'Fish & chips, 3 < 4, A.'],
    ['Use the <b> tag', 'Use the <b> tag.'],
    ['Text\n\n---\n\nMore', 'Text. More.'],
    ['', ''],
  ])('%j → %j', (markdown, spoken) => {
    expect(markdownToPlainText(markdown)).toBe(spoken);
  });

  it('leaves none of the symbols of a busy answer', () => {
    const spoken = markdownToPlainText(
      '# Plan\n\n**Step** one: `run` it.\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n- [x](https://x.dev)\n- _y_',
    );
    expect(spoken).not.toMatch(/[*#|`_[\]]/);
    expect(spoken).toBe('Plan. Step one: run it. a, b. 1, 2. x. y.');
  });
});

describe('truncateAtWord', () => {
  it('keeps short text as it is', () => {
    expect(truncateAtWord('Short answer.', 20)).toBe('Short answer.');
  });

  it('cuts a long text at the end of a word, with an ellipsis', () => {
    expect(truncateAtWord('The quick brown fox jumps over the lazy dog', 22)).toBe(
      'The quick brown fox…',
    );
    expect(truncateAtWord('One, two, three, four', 10)).toBe('One, two…');
  });

  it('cuts inside a word only when there is no space near the end', () => {
    expect(truncateAtWord('a supercalifragilistic', 12)).toBe('a supercalif…');
  });
});
