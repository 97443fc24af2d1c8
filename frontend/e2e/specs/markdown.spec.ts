// Markdown while an answer streams: sampled at every change of the page while it is written,
// the answer never shows raw `**`, table pipes, a dangling list marker or a heading that is not
// one of its own; once written, bold, a table, a nested list, an image (a link naming it), a
// javascript: link (plain text) and headings below the page's own are all right, the status
// says the reply in plain words, Copy gives the markdown as written, and axe finds nothing,
// light or dark, phone or desktop.

import type { Page } from '@playwright/test';

import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import { snap, VIEWPORTS } from '../support/screenshots';
import { lastAssistant, send, signIn, waitForAnswer } from '../support/ui';

const MARKDOWN_ANSWER = [
  '# Weekly plan',
  '',
  'Here is **the plan** for *this week*, with `code` too:',
  '',
  '| Day | Task |',
  '| --- | --- |',
  '| Monday | **Write** the draft |',
  '| Tuesday | Review it |',
  '',
  '- Mornings',
  '  - stretch',
  '  - coffee',
  '- Evenings',
  '',
  '1. First',
  '2. Second',
  '',
  '## Sources',
  '',
  '![A chart of the week](https://example.com/chart.png)',
  '',
  'Do not click [this link](javascript:alert(1)); read [the guide](https://example.com/guide).',
].join('\n');

/** The headings the finished answer has, as `TAG:text`. */
const FINAL_HEADINGS = ['H3:Weekly plan', 'H4:Sources'];

// Word by word, slowly enough (~6 s) that every stage of every construct is on screen a while.
test.use({
  serverName: 'markdown',
  serverEnv: { SCRIPTED_TEXT: MARKDOWN_ANSWER, SCRIPTED_CHUNK_DELAY_S: '0.08' },
});

interface Sample {
  /** What a reader sees of the answer, code left out. */
  text: string;
  headings: string[];
}

/**
 * Records the answer being written at every change of the log (a MutationObserver runs after
 * each React commit, so every state the reader could see is sampled).
 */
async function startSampling(page: Page): Promise<void> {
  await page.getByRole('log').evaluate((log) => {
    const samples: Sample[] = [];
    (window as unknown as { __markdownSamples: Sample[] }).__markdownSamples = samples;
    const observer = new MutationObserver(() => {
      const answers = log.querySelectorAll('[data-role="assistant"] [data-testid="message-text"]');
      const answer = answers[answers.length - 1];
      if (answer === undefined) return;
      const copy = answer.cloneNode(true) as HTMLElement;
      for (const code of copy.querySelectorAll('pre, code')) code.remove();
      // innerText needs layout: measure the copy in the page, out of sight, then drop it.
      copy.style.position = 'absolute';
      copy.style.left = '-10000px';
      document.body.append(copy);
      const text = copy.innerText;
      copy.remove();
      const headings = [...answer.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(
        (h) => `${h.tagName}:${h.textContent}`,
      );
      samples.push({ text, headings });
    });
    observer.observe(log, { childList: true, subtree: true, characterData: true });
  });
}

function samples(page: Page): Promise<Sample[]> {
  return page.evaluate(
    () => (window as unknown as { __markdownSamples: Sample[] }).__markdownSamples,
  );
}

async function violationsAtBothWidths(page: Page) {
  const found = [];
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    for (const violation of await axeViolations(page)) found.push({ width: label, ...violation });
  }
  return found;
}

test('an answer in markdown never shows half-made markdown while it streams, and ends right', async ({
  page,
  account,
}, testInfo) => {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await signIn(page, account);
  await startSampling(page);
  await send(page, 'Plan my week, in markdown.');
  const answer = await waitForAnswer(page);

  // While it streamed: many states seen, none with raw markdown or a passing heading.
  const seen = await samples(page);
  expect(seen.length).toBeGreaterThan(30);
  const raw = seen.filter((s) => /\*|\||\]\(|javascript|(^|\n)\s*(-|\d+\.)\s*(\n|$)/.test(s.text));
  expect(raw).toEqual([]);
  const strangeHeadings = seen.flatMap((s) =>
    s.headings.filter((h) => !FINAL_HEADINGS.some((final) => final.startsWith(h))),
  );
  expect(strangeHeadings).toEqual([]);
  // The table was seen while the answer was still being written, not only at the end.
  expect(seen.some((s) => s.text.includes('Monday') && !s.text.includes('Evenings'))).toBe(true);

  // Once written: every construct as it should be.
  const text = answer.getByTestId('message-text');
  await expect(text.locator('h1, h2')).toHaveCount(0);
  await expect(text.locator('h3')).toHaveText('Weekly plan');
  await expect(text.locator('h4')).toHaveText('Sources');
  await expect(text.locator('strong').first()).toHaveText('the plan');
  await expect(text.locator('em')).toHaveText('this week');
  await expect(text.locator('th')).toHaveText(['Day', 'Task']);
  await expect(text.locator('td strong')).toHaveText('Write');
  await expect(text.locator('ul ul li')).toHaveText(['stretch', 'coffee']);
  await expect(text.locator('ol li')).toHaveText(['First', 'Second']);

  // The image: a link that names it, never loaded.
  await expect(text.locator('img')).toHaveCount(0);
  const image = text.getByRole('link', { name: 'Image: A chart of the week' });
  await expect(image).toHaveAttribute('href', 'https://example.com/chart.png');
  await expect(image).toHaveAttribute('rel', 'noopener noreferrer nofollow');

  // The javascript: link is plain text that looks like the words around it; the other a link.
  await expect(text.getByRole('link', { name: 'this link' })).toHaveCount(0);
  const paragraph = text.locator('p', { hasText: 'Do not click this link; read' });
  await expect(paragraph).toBeVisible();
  const guide = text.getByRole('link', { name: 'the guide' });
  await expect(guide).toHaveAttribute('href', 'https://example.com/guide');
  await expect(guide).toHaveAttribute('target', '_blank');
  await expect(guide).toHaveAttribute('rel', 'noopener noreferrer nofollow');
  expect(await paragraph.evaluate((p) => p.querySelectorAll('a').length)).toBe(1);

  // The status says the reply in words, no symbols.
  const status = page.getByRole('status').filter({ hasText: 'Assistant replied:' });
  await expect(status).toContainText(
    'Assistant replied: Weekly plan. Here is the plan for this week',
  );
  expect(await status.textContent()).not.toMatch(/[*#|`[\]]/);

  // Copy gives the answer as written.
  await lastAssistant(page).getByRole('button', { name: 'Copy answer' }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(MARKDOWN_ANSWER);

  await expect(lastAssistant(page).getByRole('button', { name: 'Copy answer' })).toBeVisible();
  await snap(page, testInfo, 'markdown-light');
  expect(await violationsAtBothWidths(page)).toEqual([]);

  await page.emulateMedia({ colorScheme: 'dark' });
  await snap(page, testInfo, 'markdown-dark');
  expect(await violationsAtBothWidths(page)).toEqual([]);
});
