// Model output is untrusted: script in any form shows as text or is stripped, and nothing
// runs (no dialog, no global set, no request to another host). The page's CSP forbids inline
// script.

import type { Page, Request } from '@playwright/test';

import { expect, test } from '../support/fixtures';
import { SERVERS } from '../support/servers';
import { lastAssistant, send, signIn, waitForAnswer } from '../support/ui';

test.use(SERVERS.xss);

const USER_PAYLOAD =
  '<img src=x onerror="window.__pwned=\'user\'"> <script>window.__pwned="user"</script>';

/** What a script that ran would leave behind. */
function watchForScripts(page: Page, origin: string) {
  const dialogs: string[] = [];
  const foreign: string[] = [];
  const unexpected: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('request', (request: Request) => {
    const url = new URL(request.url());
    if (url.origin !== origin) foreign.push(request.url());
    else if (!/^\/(api\/v1\/|assets\/|favicon\.svg$|login$|chat(\/|$))/.test(url.pathname)) {
      unexpected.push(request.url()); // e.g. an <img src=x> resolved against the page
    }
  });
  return { dialogs, foreign, unexpected };
}

async function pwned(page: Page): Promise<unknown> {
  return page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned);
}

/** Elements and attributes that could run script, inside the messages' rendered text. */
async function dangerousMarkup(page: Page): Promise<string[]> {
  return page.getByRole('log').evaluate((log) => {
    const found: string[] = [];
    const bodies = log.querySelectorAll('[data-testid="message-text"]');
    if (bodies.length === 0) found.push('no message bodies found');
    for (const el of [...bodies].flatMap((body) => [...body.querySelectorAll('*')])) {
      const tag = el.tagName.toLowerCase();
      if (['script', 'img', 'svg', 'iframe', 'object', 'embed', 'details', 'form'].includes(tag)) {
        found.push(`<${tag}>`);
      }
      for (const attr of el.attributes) {
        if (attr.name.startsWith('on')) found.push(`${tag}[${attr.name}]`);
        if (
          ['href', 'src', 'xlink:href', 'action'].includes(attr.name) &&
          !/^(https?:|mailto:)/i.test(attr.value)
        ) {
          found.push(`${tag}[${attr.name}=${attr.value}]`);
        }
      }
    }
    return found;
  });
}

test('script in model output (and in the question) is shown as text or stripped, and never runs', async ({
  page,
  account,
  testServer,
}) => {
  const watch = watchForScripts(page, testServer.url);
  await signIn(page, account);
  await send(page, USER_PAYLOAD);
  // Checked while the payloads arrive chunk by chunk (half-written tags included)…
  await expect(lastAssistant(page)).toContainText('<script>');
  expect(await dangerousMarkup(page)).toEqual([]);
  const answer = await waitForAnswer(page);

  // …and once complete: raw HTML reads as text, unsafe links lose their href, images go.
  await expect(page.getByRole('log').getByText(USER_PAYLOAD)).toBeVisible();
  await expect(answer).toContainText('<script>window.__pwned = "script";');
  await expect(answer).toContainText('<img src=x onerror=');
  await expect(answer).toContainText('<svg onload=');
  await expect(answer.getByRole('link', { name: 'a safe link' })).toHaveAttribute(
    'href',
    'https://example.com/docs',
  );
  for (const name of ['a javascript link', 'an encoded javascript link', 'a data link']) {
    const link = answer.getByText(name, { exact: true });
    await expect(link).toBeVisible();
    await expect(link).not.toHaveAttribute('href', /.*/);
  }
  expect(await dangerousMarkup(page)).toEqual([]);

  // Clicking what used to be a javascript: link does nothing.
  await answer.getByText('a javascript link', { exact: true }).click();
  await page.waitForTimeout(300);

  // The same after a reload (the history is rendered by the same path, from the server).
  await page.reload();
  await expect(lastAssistant(page)).toContainText('That is all.');
  expect(await dangerousMarkup(page)).toEqual([]);

  expect(await pwned(page)).toBeUndefined();
  expect(watch.dialogs).toEqual([]);
  expect(watch.foreign).toEqual([]);
  expect(watch.unexpected).toEqual([]);
});

test('the page is served with a Content-Security-Policy that blocks inline script', async ({
  page,
}) => {
  const violations: string[] = [];
  await page.exposeFunction('reportViolation', (directive: string) => violations.push(directive));
  const response = await page.goto('/login');
  const csp = response?.headers()['content-security-policy'] ?? '';
  const scriptSrc = /(?:^|;)\s*script-src ([^;]*)/.exec(csp)?.[1] ?? '';
  expect(scriptSrc.split(/\s+/)).toEqual(["'self'"]);
  expect(csp).toContain("object-src 'none'");
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toContain('unsafe-eval');

  // The built page itself needs no inline script…
  const inline = await page.evaluate(
    () => [...document.scripts].filter((script) => script.src === '').length,
  );
  expect(inline).toBe(0);
  // …and an inline script added to it does not run.
  const ran = await page.evaluate(async () => {
    document.addEventListener('securitypolicyviolation', (event) => {
      void (window as unknown as { reportViolation: (d: string) => Promise<void> }).reportViolation(
        event.effectiveDirective,
      );
    });
    const script = document.createElement('script');
    script.textContent = 'window.__inlineRan = true;';
    document.head.append(script);
    const handler = document.createElement('div');
    handler.innerHTML = '<img src="/favicon.svg" onload="window.__inlineRan = true">';
    document.body.append(handler);
    await new Promise((resolve) => setTimeout(resolve, 300));
    return (window as unknown as { __inlineRan?: boolean }).__inlineRan ?? false;
  });
  expect(ran).toBe(false);
  await expect.poll(() => violations).toContain('script-src-elem');
});
