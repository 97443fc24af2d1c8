// Flow 8: the real local model (SmolLM2-135M on llama.cpp) answers one message, streamed.

import { expect, test } from '../support/fixtures';
import { SERVERS } from '../support/servers';
import { lastAssistant, normalise, send, shownText, signIn, waitForAnswer } from '../support/ui';

test.use(SERVERS.localModel);

test('the local model streams an answer to one message', async ({
  page,
  account,
  api,
  testServer,
}) => {
  test.setTimeout(180_000); // the first answer loads the model
  await signIn(page, account);
  const stream = page.waitForResponse((response) =>
    /\/api\/v1\/chat\/messages\/[^/]+\/stream\?/.test(response.url()),
  );
  // Sample the answer's length on every frame: a streamed answer grows in several steps.
  const lengths = page.evaluate(
    () =>
      new Promise<number[]>((resolve) => {
        const seen: number[] = [];
        const tick = () => {
          const last = [
            ...document.querySelectorAll<HTMLElement>(
              '[data-testid="message"][data-role="assistant"]',
            ),
          ].at(-1);
          if (last !== undefined) {
            const length =
              last.querySelector('[data-testid="message-text"]')?.textContent.length ?? 0;
            if (seen.at(-1) !== length) seen.push(length);
            if (last.dataset.status !== 'streaming') {
              resolve(seen);
              return;
            }
          }
          requestAnimationFrame(tick);
        };
        tick();
      }),
  );
  await send(page, 'Say hello in one short sentence.');
  await expect(lastAssistant(page).getByTestId('typing-indicator')).toBeVisible();
  const response = await stream;
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toContain('text/event-stream');

  const answer = await waitForAnswer(page, 160_000);
  const grew = (await lengths).filter((length) => length > 0);
  expect(grew.length).toBeGreaterThan(1); // the text arrived in more than one piece

  const stored = await api.latestChatMessages();
  const text = stored[1]?.content ?? '';
  expect(stored[1]?.status).toBe('complete');
  expect(text.trim().length).toBeGreaterThan(0);
  expect(normalise(await shownText(answer))).toBe(normalise(text));
  // The server's own account of the answer: the model, and how many chunks it streamed.
  const completed = testServer.server
    .readLog()
    .split('\n')
    .filter((line) => line.includes('"stream_completed"'))
    .map((line) => JSON.parse(line) as { model: string; status: string; chunk_count: number });
  expect(completed).toHaveLength(1);
  expect(completed[0]).toMatchObject({ model: 'local', status: 'complete' });
  expect(completed[0]?.chunk_count).toBeGreaterThan(1);
});
