// Code in answers: a fenced block is highlighted (the highlighter fetched only once code
// appears), labelled with its language, copied by its Copy button, and its long line scrolls
// in a box the keyboard reaches; the whole answer copies as markdown; axe finds nothing, light
// or dark, phone or desktop.

import type { Page } from '@playwright/test';

import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import { snap, VIEWPORTS } from '../support/screenshots';
import { CODE_ANSWER, CODE_PYTHON, SERVERS } from '../support/servers';
import { send, signIn, waitForAnswer } from '../support/ui';

test.use(SERVERS.code);

async function violationsAtBothWidths(page: Page) {
  const found = [];
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    for (const violation of await axeViolations(page)) found.push({ width: label, ...violation });
  }
  return found;
}

function clipboardText(page: Page): Promise<string> {
  return page.evaluate(() => navigator.clipboard.readText());
}

test('a code block in an answer: highlighted, labelled, copied, scrolled by keyboard, no axe violations', async ({
  page,
  account,
}, testInfo) => {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  const highlighterChunks: string[] = [];
  page.on('request', (request) => {
    if (/\/highlighter-[\w-]+\.js$/.test(request.url())) highlighterChunks.push(request.url());
  });

  await signIn(page, account);
  await expect(page.getByRole('heading', { name: 'How can I help you today?' })).toBeVisible();
  // The first page does without the highlighter.
  expect(highlighterChunks).toEqual([]);

  await send(page, 'Show me a Python function.');
  const answer = await waitForAnswer(page);
  await expect(answer.getByTestId('code-block')).toHaveCount(2);
  const block = answer.getByTestId('code-block').first();
  // The second, in a list item, is a code block too.
  const inList = answer.getByRole('listitem').getByTestId('code-block');
  await expect(inList.getByTestId('code-language')).toHaveText('bash');
  await expect(inList.getByRole('button', { name: 'Copy bash code' })).toBeVisible();
  await expect(inList.locator('.hljs-string').first()).toBeVisible();

  // Highlighted by the lazily loaded chunk, and labelled.
  await expect(block.locator('.hljs-keyword').first()).toHaveText('def');
  await expect(block.locator('.hljs-string').first()).toBeVisible();
  expect(highlighterChunks).toHaveLength(1);
  await expect(block.getByTestId('code-language')).toHaveText('python');
  const code = block.getByRole('group', { name: 'python code' });
  await expect(code).toHaveText(CODE_PYTHON);

  // Copy puts the code (without its fences) on the clipboard, and says so.
  await block.getByRole('button', { name: 'Copy python code' }).click();
  await expect(block.getByRole('button', { name: 'Copied' })).toBeVisible();
  await expect(block.getByRole('status')).toHaveText('Copied');
  expect(await clipboardText(page)).toBe(CODE_PYTHON);

  // The whole answer copies as its markdown source.
  await answer.getByRole('button', { name: 'Copy answer' }).click();
  await expect(answer.getByTestId('message-actions').getByRole('status')).toHaveText('Copied');
  expect(await clipboardText(page)).toBe(CODE_ANSWER);

  // The long line scrolls sideways in a box that Tab reaches from the Copy button.
  await page.setViewportSize(VIEWPORTS.narrow);
  await block.getByRole('button', { name: /^Cop/ }).focus();
  await page.keyboard.press('Tab');
  await expect(code).toBeFocused();
  const overflow = await code.evaluate((el) => el.scrollWidth - el.clientWidth);
  expect(overflow).toBeGreaterThan(100);
  for (let i = 0; i < 5; i += 1) await page.keyboard.press('ArrowRight');
  await expect.poll(() => code.evaluate((el) => el.scrollLeft)).toBeGreaterThan(0);

  // Screenshots of the block at rest: scrolled back, the Copy buttons back to "Copy".
  await code.evaluate((el) => el.blur());
  // Once the keyboard's smooth scroll has come to rest, back to the start.
  await expect
    .poll(() =>
      code.evaluate(
        (el) =>
          new Promise<boolean>((resolve) => {
            const before = el.scrollLeft;
            setTimeout(() => resolve(el.scrollLeft === before), 300);
          }),
      ),
    )
    .toBe(true);
  await code.evaluate((el) => el.scrollTo({ left: 0, behavior: 'instant' }));
  await expect.poll(() => code.evaluate((el) => el.scrollLeft)).toBe(0);
  await expect(answer.getByRole('button', { name: 'Copy answer' })).toBeVisible();
  await expect(block.getByRole('button', { name: 'Copy python code' })).toBeVisible();
  await snap(page, testInfo, 'code-light');
  expect(await violationsAtBothWidths(page)).toEqual([]);

  await page.emulateMedia({ colorScheme: 'dark' });
  await snap(page, testInfo, 'code-dark');
  expect(await violationsAtBothWidths(page)).toEqual([]);
});
