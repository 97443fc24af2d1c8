// Flow 7: streaming is switched off for the user. The answer comes whole from the
// non-streaming endpoint, with a loading indicator meanwhile; no stream is ever opened.

import { expect, test } from '../support/fixtures';
import { snap } from '../support/screenshots';
import { PROSE, SERVERS } from '../support/servers';
import { lastAssistant, normalise, send, shownText, signIn, waitForAnswer } from '../support/ui';

test.use(SERVERS.noStreaming);

test('with streaming off, the answer comes whole after a loading indicator', async ({
  page,
  account,
  api,
}, testInfo) => {
  const requests: string[] = [];
  page.on('request', (request) => requests.push(new URL(request.url()).pathname));
  await signIn(page, account);
  await expect(page.getByText('Streaming off')).toBeVisible();

  await send(page, 'Answer me in one go, please.');
  const answer = lastAssistant(page);
  const loading = answer.getByRole('img', { name: 'Assistant is thinking' });
  await expect(loading).toBeVisible();
  await expect(answer).toHaveAttribute('data-status', 'pending');
  await expect(page.getByRole('log')).toHaveAttribute('aria-busy', 'true');
  await snap(page, testInfo, 'chat-loading-no-streaming');
  // Nothing of the answer shows until all of it is there.
  expect(normalise(await shownText(answer))).toBe('');

  await waitForAnswer(page);
  await expect(loading).toHaveCount(0);
  expect(normalise(await shownText(answer))).toBe(normalise(PROSE));
  expect((await api.latestChatMessages())[1]?.content).toBe(PROSE);

  expect(requests).toContain('/api/v1/chat/message');
  expect(requests.filter((path) => path.includes('stream'))).toEqual([]);
});
