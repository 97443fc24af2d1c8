// Long messages travel in a body (POST /chat/turns): 8,000 four-byte characters, the whole
// MAX_MESSAGE_CHARS and 32,000 bytes of UTF-8 (about 96 KB in a URL, past the 64 KB a URL may
// hold), are answered and stored as typed. One more is refused: by the composer, which counts
// characters as the server does, and, when the page was told a higher limit, by the server,
// whose own message the page shows. Nothing is stored either way.

import type { Page, Request } from '@playwright/test';

import { expect, test } from '../support/fixtures';
import { PROSE, SERVERS } from '../support/servers';
import { composer, normalise, shownText, signIn, userTexts, waitForAnswer } from '../support/ui';

test.use(SERVERS.default);

const LIMIT = 8_000; // MAX_MESSAGE_CHARS, the server's default
const EMOJI = '😀'; // one character, four bytes of UTF-8, two UTF-16 units

/** The API requests the page makes, as `METHOD /path` (no query, so no token). */
function recordApiCalls(page: Page): string[] {
  const calls: string[] = [];
  page.on('request', (request: Request) => {
    const { pathname } = new URL(request.url());
    if (pathname.startsWith('/api/v1/chat/')) calls.push(`${request.method()} ${pathname}`);
  });
  return calls;
}

test('8,000 four-byte characters are sent in a body, answered as a stream, and stored as typed', async ({
  page,
  account,
  api,
}) => {
  await signIn(page, account);
  const calls = recordApiCalls(page);
  const message = EMOJI.repeat(LIMIT);
  const box = composer(page);
  await box.fill(message);
  await expect(page.getByText('8,000 / 8,000')).toBeVisible();
  await expect(box).toHaveAttribute('aria-invalid', 'false');

  const posted = page.waitForRequest(
    (request) => request.method() === 'POST' && request.url().endsWith('/api/v1/chat/turns'),
  );
  await box.press('Enter');
  const request = await posted;
  const body = request.postDataJSON() as { message: string; kind: string };
  expect(body.message).toBe(message);
  expect(body.kind).toBe('chat');
  expect((await request.response())?.status()).toBe(202);

  const answer = await waitForAnswer(page);
  expect(normalise(await shownText(answer))).toBe(normalise(PROSE));
  await expect(userTexts(page)).toHaveText([message]);
  // Sent once, in the body; the answer read by its id: no message in any URL, no fallback.
  // (Besides these: the stream token, and the conversation list and history.)
  expect(calls.filter((call) => !/\/(stream-token|conversations)/.test(call))).toEqual([
    'POST /api/v1/chat/turns',
    expect.stringMatching(/^GET \/api\/v1\/chat\/messages\/[0-9a-f-]{36}\/stream$/) as unknown,
  ]);

  const stored = await api.latestChatMessages();
  expect(stored.map((m) => [m.role, m.status])).toEqual([
    ['user', 'complete'],
    ['assistant', 'complete'],
  ]);
  expect(stored[0]?.content).toBe(message);
  expect(stored[1]?.content).toBe(PROSE);
});

test('8,001 characters: the composer says it is too long and sends nothing', async ({
  page,
  account,
  api,
}) => {
  await signIn(page, account);
  const calls = recordApiCalls(page);
  const box = composer(page);
  await box.fill(EMOJI.repeat(LIMIT + 1));
  await expect(page.getByText('Too long: 8,001 of 8,000 characters.')).toBeVisible();
  await expect(box).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByRole('button', { name: 'Send' })).toHaveAttribute('aria-disabled', 'true');

  await box.press('Enter');
  await page.waitForTimeout(500);
  expect(calls.filter((call) => call.startsWith('POST'))).toEqual([]);
  await expect(box).toHaveValue(EMOJI.repeat(LIMIT + 1)); // kept, to shorten
  await expect(page.getByRole('log').getByTestId('message')).toHaveCount(0);
  expect((await api.conversations()).items).toEqual([]);
});

test("8,001 characters past a page told a higher limit: the server's own message, nothing stored", async ({
  page,
  account,
  api,
}) => {
  // The page believes the limit is higher (say, a server reconfigured since it loaded): the
  // composer lets the message go, and the server refuses it.
  await page.route(
    (url) => url.pathname.endsWith('/api/v1/config'),
    async (route) => {
      const response = await route.fetch();
      const config = (await response.json()) as Record<string, unknown>;
      await route.fulfill({ response, json: { ...config, max_message_chars: LIMIT * 2 } });
    },
  );
  await signIn(page, account);
  const calls = recordApiCalls(page);
  const message = EMOJI.repeat(LIMIT + 1);
  await composer(page).fill(message);
  const refused = page.waitForResponse((response) => response.url().endsWith('/api/v1/chat/turns'));
  await composer(page).press('Enter');
  expect((await refused).status()).toBe(413);

  // Nothing was stored, so nothing shows as sent: the text is back in the box, with the reason.
  const alert = page.getByRole('form', { name: 'Send a message' }).getByRole('alert');
  await expect(alert).toHaveText('The message is 8001 characters long; the limit is 8000.');
  await expect(composer(page)).toHaveValue(message);
  await expect(page.getByRole('log').getByTestId('message')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Retry' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Send' })).toBeVisible();
  await expect(page).toHaveURL(/\/chat$/); // no conversation was started
  expect(calls.filter((call) => call.includes('/messages/'))).toEqual([]); // no stream opened
  expect((await api.conversations()).items).toEqual([]);
});
