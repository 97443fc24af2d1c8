// Flow 8: the real local model (SmolLM2-135M on llama.cpp) answers one message, streamed.

import { expect, test } from '../support/fixtures';
import { lastAssistant, normalise, send, shownText, signIn, waitForAnswer } from '../support/ui';
import { SERVERS } from '../support/servers';

test.use(SERVERS.localModel);

test('the local model streams an answer to one message', async ({ page, account, api }) => {
  test.setTimeout(120_000); // the first answer loads the model
  await signIn(page, account);
  const stream = page.waitForResponse((response) =>
    response.url().includes('/api/v1/chat/stream?'),
  );
  await send(page, 'Say hello in one short sentence.');
  await expect(lastAssistant(page).getByTestId('typing-indicator')).toBeVisible();
  const response = await stream;
  expect(response.headers()['content-type']).toContain('text/event-stream');

  const answer = await waitForAnswer(page, 90_000);
  // The body, once the stream has ended: several chunk events, then one `complete`.
  const events = (await response.text())
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)) as { type: string; content?: string });
  const chunks = events.filter((event) => event.type === 'chunk');
  expect(chunks.length).toBeGreaterThan(1);
  expect(events.at(-1)?.type).toBe('complete');

  const stored = await api.latestChatMessages();
  const text = stored[1]?.content ?? '';
  expect(text.trim().length).toBeGreaterThan(0);
  expect(chunks.map((chunk) => chunk.content).join('')).toBe(text);
  expect(stored[1]?.status).toBe('complete');
  expect(normalise(await shownText(answer)).length).toBeGreaterThan(0);
});
