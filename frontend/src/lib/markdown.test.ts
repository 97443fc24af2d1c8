import DOMPurify from 'dompurify';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  finishedBlockParseCount,
  guardLink,
  PURIFY_CONFIG,
  renderFinishedBlock,
  languageOf,
  renderMarkdown,
  renderParts,
  renderStreamingBlock,
  sanitizeHtml,
  splitMarkdownBlocks,
} from './markdown';

function fragment(html: string): HTMLElement {
  const div = document.createElement('div');
  div.innerHTML = html;
  return div;
}

describe('renderMarkdown', () => {
  it('renders code blocks, lists and links', () => {
    const html = fragment(
      renderMarkdown('1. a\n2. b\n\n```py\nprint(1)\n```\n\n[x](https://x.dev)'),
    );
    expect(html.querySelectorAll('ol li')).toHaveLength(2);
    expect(html.querySelector('pre code')?.textContent).toBe('print(1)\n');
    expect(html.querySelector('a')?.getAttribute('href')).toBe('https://x.dev');
  });

  it('removes javascript:, data: and vbscript: links but keeps their text', () => {
    for (const url of [
      'javascript:alert(1)',
      'JAVASCRIPT:alert(1)',
      'data:text/html,x',
      'vbscript:x',
    ]) {
      const html = fragment(renderMarkdown(`[click](${url})`));
      expect(html.querySelector('a')?.hasAttribute('href') ?? false).toBe(false);
      expect(html.textContent).toContain('click');
    }
  });

  it('opens links in a new tab with rel="noopener noreferrer nofollow"', () => {
    for (const markdown of ['<https://example.com>', '[x](https://example.com "Title")']) {
      const a = fragment(renderMarkdown(markdown)).querySelector('a');
      expect(a?.getAttribute('rel')).toBe('noopener noreferrer nofollow');
      expect(a?.getAttribute('target')).toBe('_blank');
    }
    const mail = fragment(renderMarkdown('[write](mailto:a@example.com)')).querySelector('a');
    expect(mail?.getAttribute('href')).toBe('mailto:a@example.com');
  });

  it('renders a link to any other kind of address as plain text, not a link', () => {
    for (const url of ['javascript:alert(1)', 'jav&#x61;script:x', 'ftp://x.example/f', 'x.html']) {
      const html = fragment(renderMarkdown(`Go [there](${url}) now`));
      expect(html.querySelector('a')).toBeNull();
      expect(html.textContent).toBe('Go there now\n');
    }
  });

  it('shows an image as a link naming it, never loading it', () => {
    const html = fragment(renderMarkdown('![A **red** cat](https://example.com/cat.png "Cat")'));
    expect(html.querySelector('img')).toBeNull();
    const a = html.querySelector('a');
    expect(a?.textContent).toBe('Image: A red cat');
    expect(a?.getAttribute('href')).toBe('https://example.com/cat.png');
    expect(a?.getAttribute('rel')).toBe('noopener noreferrer nofollow');
    // From anywhere else, or without a description: still named, not a link.
    expect(fragment(renderMarkdown('![a pixel](javascript:x)')).innerHTML).toBe(
      '<p>Image: a pixel</p>\n',
    );
    expect(fragment(renderMarkdown('![](data:image/png;base64,AAAA)')).textContent).toBe(
      'Image: no description\n',
    );
  });

  it("shifts headings two levels down, so the page's <h1> and <h2> stay the page's", () => {
    const html = fragment(
      renderMarkdown('# One\n\n## Two\n\n### Three\n\n#### Four\n\n###### Six'),
    );
    expect([...html.querySelectorAll('h1, h2, h3, h4, h5, h6')].map((h) => h.outerHTML)).toEqual([
      '<h3>One</h3>',
      '<h4>Two</h4>',
      '<h5>Three</h5>',
      '<h6>Four</h6>',
      '<h6>Six</h6>',
    ]);
    expect(fragment(renderMarkdown('Title\n===')).querySelector('h3')?.textContent).toBe('Title');
  });

  it('shows raw HTML in model output as text', () => {
    const html = fragment(renderMarkdown('Use the <script>alert(1)</script> tag and <b>this</b>'));
    expect(html.querySelector('script')).toBeNull();
    expect(html.querySelector('b')).toBeNull();
    expect(html.textContent).toContain('<script>alert(1)</script>');
  });

  it('drops images, event handlers and inline styles even if they reach the sanitiser', () => {
    const html = fragment(
      sanitizeHtml('<img src="https://t.example/x.png"><p onclick="x()" style="color:red">hi</p>'),
    );
    expect(html.querySelector('img')).toBeNull();
    expect(html.querySelector('[onclick]')).toBeNull();
    expect(html.querySelector('[style]')).toBeNull();
  });
});

describe('renderParts', () => {
  it('keeps top-level code blocks apart from the HTML around them', () => {
    const parts = renderParts(
      'Intro\n\n```Python title="x.py"\nprint(1)\n```\n\n    indented\n\nEnd',
    );
    expect(parts).toEqual([
      { kind: 'html', html: '<p>Intro</p>\n' },
      { kind: 'code', code: 'print(1)', language: 'python', isOpen: false },
      { kind: 'code', code: 'indented', language: '', isOpen: false },
      { kind: 'html', html: '<p>End</p>\n' },
    ]);
  });

  it('makes a list with code a list of parts, so its code is a code block too', () => {
    const parts = renderParts('3. Run:\n\n   ```sh\n   ls <dir>\n   ```\n4. Done');
    expect(parts).toEqual([
      {
        kind: 'list',
        ordered: true,
        start: 3,
        items: [
          [
            { kind: 'html', html: '<p>Run:</p>\n' },
            { kind: 'code', code: 'ls <dir>', language: 'sh', isOpen: false },
          ],
          [{ kind: 'html', html: '<p>Done</p>\n' }],
        ],
      },
    ]);
    // Without code, a list stays HTML.
    expect(renderParts('- a\n- b')).toEqual([
      { kind: 'html', html: '<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n' },
    ]);
  });

  it('makes code in a quote a focusable, labelled scroll box', () => {
    const [part] = renderParts('> ```sh\n> ls <dir>\n> ```');
    const pre = fragment(part?.kind === 'html' ? part.html : '').querySelector('blockquote pre');
    expect(pre?.getAttribute('tabindex')).toBe('0');
    expect(pre?.getAttribute('role')).toBe('group');
    expect(pre?.getAttribute('aria-label')).toBe('sh code');
    expect(pre?.textContent).toBe('ls <dir>\n');
  });

  it('reads the language from the first word of the fence, lower case', () => {
    expect(languageOf(' TypeScript {1,3}')).toBe('typescript');
    expect(languageOf(undefined)).toBe('');
    expect(languageOf('')).toBe('');
  });
});

describe('streaming markdown', () => {
  it('shows half-written code as code, marked open until its fence closes', () => {
    expect(renderStreamingBlock('Look:\n```js\nconst a = 1')).toEqual([
      { kind: 'html', html: '<p>Look:</p>\n' },
      { kind: 'code', code: 'const a = 1', language: 'js', isOpen: true },
    ]);
    expect(renderStreamingBlock('```js\nconst a = 1\n```')).toEqual([
      { kind: 'code', code: 'const a = 1', language: 'js', isOpen: false },
    ]);
    expect(renderStreamingBlock('```js\nconst a = 1\n``')).toMatchObject([{ isOpen: true }]);
    expect(renderStreamingBlock('```')).toMatchObject([{ kind: 'code', code: '', isOpen: true }]);
    expect(renderStreamingBlock('1. Run:\n   ```sh\n   ls')).toMatchObject([
      { kind: 'list', items: [[{ kind: 'html' }, { kind: 'code', code: 'ls', isOpen: true }]] },
    ]);
    // A finished block's code is done, closed or not (an answer stopped part way).
    expect(renderFinishedBlock('```js\nconst b')).toMatchObject([{ isOpen: false }]);
  });

  it('completes the block being written: no raw emphasis, table pipes or passing headings', () => {
    const html = (text: string) =>
      renderStreamingBlock(text)
        .map((part) => (part.kind === 'html' ? part.html : ''))
        .join('');
    expect(html('Some **bold ')).toBe('<p>Some <strong>bold</strong> </p>\n');
    expect(html('| Name | Score |\n| --')).toBe('');
    expect(html('| Name | Score |\n| --- | --- |')).toContain('<th>Score</th>');
    expect(html('- item\n  -')).toBe('<ul>\n<li>item</li>\n</ul>\n');
    expect(html('1. one\n2.')).toBe('<ol>\n<li>one</li>\n</ol>\n');
    expect(html('See [the docs](https://exa')).toBe('<p>See the docs</p>\n');
  });

  it('splits at blank lines outside code fences only', () => {
    const text = 'Para one\n\n```\ncode\n\nmore code\n```\n\nPara two';
    expect(splitMarkdownBlocks(text)).toEqual([
      'Para one\n',
      '```\ncode\n\nmore code\n```\n',
      'Para two',
    ]);
  });

  it('keeps indented continuations (list items, nested code) in the same block', () => {
    expect(splitMarkdownBlocks('- item\n\n  continued\n\nnext')).toEqual([
      '- item\n\n  continued\n',
      'next',
    ]);
  });

  it('parses a finished block once, however often it is rendered', () => {
    const block = `A block rendered many times ${Math.random()}`;
    const before = finishedBlockParseCount();
    for (let i = 0; i < 10; i += 1) renderFinishedBlock(block);
    expect(finishedBlockParseCount() - before).toBe(1);
  });

  it('property: blocks never change once a later block has begun (so they can be cached)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('word ', '\n', '\n\n', '```', '  ', '- ', '# ', 'x'), {
          maxLength: 60,
        }),
        (pieces) => {
          let text = '';
          let previous: string[] = [];
          for (const piece of pieces) {
            text += piece;
            const blocks = splitMarkdownBlocks(text);
            expect(blocks.join('\n')).toBe(text);
            // Every block that was finished before stays exactly the same.
            for (let i = 0; i < previous.length - 1; i += 1) expect(blocks[i]).toBe(previous[i]);
            previous = blocks;
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('sanitizeHtml, configured once', () => {
  // The sanitiser as it was configured before: a private instance with the same hook, given
  // the whole configuration on every call. The instance configured once must agree with it.
  const reference = DOMPurify(window);
  reference.addHook('afterSanitizeAttributes', guardLink);
  const perCall = (html: string) => reference.sanitize(html, PURIFY_CONFIG);

  const HOSTILE = [
    '<script>alert(1)</script><p>after</p>',
    '<img src=x onerror=alert(1)>',
    '<p onclick="x()" style="color:red" data-x="1" class="c" title="t">hi</p>',
    '<a href="javascript:alert(1)">js</a>',
    '<a href=" JaVaScRiPt:alert(1)">spaced</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD4=">data</a>',
    '<a href="vbscript:msgbox(1)">vb</a>',
    '<a href="https://ok.example/a?b=1" target="_self" rel="opener">ok</a>',
    '<a href="mailto:a@b.example" title="mail">mail</a>',
    '<a>no href</a>',
    '<svg><script>alert(1)</script><a xlink:href="javascript:x">s</a></svg>',
    '<math><mi xlink:href="javascript:alert(1)">m</mi></math>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<form action="https://evil.example"><input name="q"><button>go</button></form>',
    '<textarea><img src=x onerror=alert(1)></textarea><select><option>o</option></select>',
    '<video src="https://t.example/v.mp4"></video><audio src=a></audio>',
    '<picture><source srcset="https://t.example/a.png"><img src=b></picture>',
    '<style>body{display:none}</style><p>styled</p>',
    '<div style="background:url(https://t.example/track)">bg</div>',
    '<p srcset="x 1x">srcset</p><span data-secret="1">data</span>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<template><img src=x onerror=alert(1)></template>',
    '<object data="https://evil.example/x.swf"></object><embed src=x>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<base href="https://evil.example/"><link rel=stylesheet href=x>',
    '<details open ontoggle=alert(1)><summary>s</summary></details>',
    '<table><tr><td background="javascript:x">cell</td></tr></table>',
    '<h3 id="x" name="y">heading</h3><pre tabindex="0" role="group" aria-label="x code"><code>1</code></pre>',
    '<!-- comment --><![CDATA[x]]><p>cdata</p>',
    '<a href="https://ok.example/"><img src=x></a>',
    '<blockquote cite="javascript:x"><p>quoted</p></blockquote>',
    '<p>unclosed <b>bold <i>italic',
    'plain text, no markup at all',
    '',
  ];

  it('gives the same output as the configuration given on every call, for hostile inputs', () => {
    for (const html of HOSTILE) expect(sanitizeHtml(html)).toBe(perCall(html));
    // And nothing dangerous survives, whichever way it was configured.
    const all = fragment(HOSTILE.map(sanitizeHtml).join(''));
    expect(
      all.querySelector('script, img, svg, math, iframe, form, input, style, video'),
    ).toBeNull();
    expect(
      all.querySelector('[onclick], [onerror], [ontoggle], [style], [srcset], [data-x]'),
    ).toBeNull();
    for (const link of all.querySelectorAll('a[href]')) {
      expect(link.getAttribute('href')).toMatch(/^(?:https?:|mailto:)/);
      expect(link.getAttribute('target')).toBe('_blank');
      expect(link.getAttribute('rel')).toBe('noopener noreferrer nofollow');
    }
  });

  it('gives the same output as the configuration given on every call, for any mix of tags', () => {
    const tag = fc.constantFrom('p', 'a', 'img', 'script', 'svg', 'b', 'form', 'style', 'div');
    const attribute = fc.constantFrom(
      ' href="javascript:alert(1)"',
      ' href="https://x.example/"',
      ' onclick="x()"',
      ' style="color:red"',
      ' data-x="1"',
      ' target="_self"',
      ' srcset="a 1x"',
      '',
    );
    const piece = fc.oneof(
      fc
        .tuple(tag, attribute, fc.string({ maxLength: 8 }))
        .map(([name, attr, text]) => `<${name}${attr}>${text}</${name}>`),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        const html = pieces.join('');
        expect(sanitizeHtml(html)).toBe(perCall(html));
      }),
      { numRuns: 300 },
    );
  });
});
