import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeAll, describe, expect, it, vi } from 'vitest';

import { highlightedBlockCount, loadHighlighter } from '../lib/highlight';

import { Markdown } from './Markdown';

const PYTHON = '```python\ndef greet(name):\n    return f"Hello, {name}"  # a comment\n```';

beforeAll(async () => {
  await loadHighlighter();
});

describe('CodeBlock', () => {
  it('labels a block with its language, highlights it, and lets the keyboard reach it', () => {
    render(<Markdown text={`Here:\n\n${PYTHON}`} isStreaming={false} />);
    expect(screen.getByTestId('code-language')).toHaveTextContent('python');
    expect(screen.getByRole('button', { name: 'Copy python code' })).toBeInTheDocument();
    const pre = screen.getByRole('group', { name: 'python code' });
    expect(pre.tagName).toBe('PRE');
    expect(pre).toHaveAttribute('tabindex', '0');
    expect(pre.querySelector('.hljs-keyword')).toHaveTextContent('def');
    expect(pre.querySelector('.hljs-comment')).toHaveTextContent('# a comment');
    expect(pre).toHaveTextContent('def greet(name): return f"Hello, {name}" # a comment', {
      normalizeWhitespace: true,
    });
  });

  it('gives code inside a list item the same label, Copy and highlighting', () => {
    render(
      <Markdown
        text={'1. Install:\n\n   ```bash\n   for f in *.py; do echo "$f"; done\n   ```\n2. Run it.'}
        isStreaming={false}
      />,
    );
    const list = screen.getByRole('list');
    const [first, second] = within(list).getAllByRole('listitem');
    expect(first).toHaveTextContent('Install:');
    expect(within(first!).getByTestId('code-language')).toHaveTextContent('bash');
    expect(within(first!).getByRole('button', { name: 'Copy bash code' })).toBeInTheDocument();
    expect(within(first!).getByRole('group', { name: 'bash code' })).toHaveTextContent(
      'for f in *.py',
    );
    expect(first!.querySelector('.hljs-keyword')).toHaveTextContent('for');
    expect(second).toHaveTextContent('Run it.');
  });

  it('copies the code without its fences', async () => {
    const user = userEvent.setup();
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText } });
    render(<Markdown text={PYTHON} isStreaming={false} />);
    await user.click(screen.getByRole('button', { name: 'Copy python code' }));
    expect(writeText).toHaveBeenCalledWith(
      'def greet(name):\n    return f"Hello, {name}"  # a comment',
    );
    expect(screen.getByRole('button', { name: 'Copied' })).toBeInTheDocument();
  });

  it('highlights a block once: plain while open, once when its fence closes, never again', () => {
    const before = highlightedBlockCount();
    // Code never highlighted before (the cache is shared by the whole file).
    const code = PYTHON.replace('greet', `greet_${String(Math.random()).slice(2)}`);
    const answer = `Intro\n\n${code}\n\nAfter the code.\n\nAnd more.`;
    const { rerender, container } = render(<Markdown text="" isStreaming />);
    const fenceEnd = answer.lastIndexOf('```') + 3;
    for (let end = 1; end <= answer.length; end += 1) {
      rerender(<Markdown text={answer.slice(0, end)} isStreaming />);
      const pre = container.querySelector('pre');
      // Open: plain text, no Copy yet.
      if (pre !== null && end < fenceEnd) {
        expect(pre.querySelector('[class^="hljs-"]')).toBeNull();
        expect(screen.queryByRole('button', { name: /copy/i })).toBeNull();
      }
    }
    expect(highlightedBlockCount() - before).toBe(1);
    rerender(<Markdown text={answer} isStreaming={false} />);
    rerender(<Markdown text={`${answer}\n\nA new block.`} isStreaming={false} />);
    expect(highlightedBlockCount() - before).toBe(1);
    expect(container.querySelector('pre .hljs-keyword')).toHaveTextContent('def');
  });

  it('shows markup in code as text', () => {
    const code = '<script>window.__x = 1</script><img src=x onerror="window.__x = 2">';
    const { container } = render(
      <Markdown text={'```html\n' + code + '\n```'} isStreaming={false} />,
    );
    const pre = screen.getByRole('group', { name: 'html code' });
    expect(pre).toHaveTextContent(code);
    expect(container.querySelector('script, img, [onerror]')).toBeNull();
    expect(pre.querySelector('.hljs-tag')).not.toBeNull();
  });

  it('leaves a language it does not know plain, and labels a block with none "text"', () => {
    render(
      <Markdown text={'```cobol-ish\nMOVE A TO B\n```\n\n```\nplain\n```'} isStreaming={false} />,
    );
    const [unknown, none] = screen.getAllByTestId('code-block');
    expect(within(unknown!).getByTestId('code-language')).toHaveTextContent('cobol-ish');
    expect(unknown!.querySelector('[class^="hljs-"]')).toBeNull();
    expect(within(none!).getByTestId('code-language')).toHaveTextContent('text');
    expect(within(none!).getByRole('group', { name: 'text code' })).toHaveTextContent('plain');
  });
});
