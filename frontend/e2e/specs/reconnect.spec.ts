// Flow 6: the connection drops mid-answer (a proxy the test controls cuts it). EventSource
// reconnects with Last-Event-ID, the server resumes, and the answer completes with nothing
// missing and nothing doubled.

import { expect, test } from '../support/fixtures';
import { CuttableProxy } from '../support/proxy';
import { PROSE, SERVERS } from '../support/servers';
import {
  lastAssistant,
  normalise,
  send,
  shownText,
  signIn,
  userTexts,
  waitForAnswer,
} from '../support/ui';

test.use(SERVERS.default);

test('a dropped connection mid-answer reconnects and the answer completes, nothing missing or doubled', async ({
  page,
  account,
  api,
  testServer,
}) => {
  const proxy = await CuttableProxy.start(testServer.url);
  try {
    await signIn(page, account);
    // Same account, now through the proxy (another origin: sign in there too).
    await signIn(page, account, /\/chat$/, proxy.url);

    await send(page, 'Will this survive a network hiccup?');
    const answer = lastAssistant(page);
    await expect(answer).toContainText('send each piece');
    await expect.poll(() => proxy.openStreams).toBe(1);
    const beforeCut = normalise(await shownText(answer));
    expect(proxy.cutStreams()).toBe(1);

    // EventSource reconnects by itself (after the server's `retry:` delay) with Last-Event-ID.
    await expect.poll(() => proxy.streamRequests.length, { timeout: 15_000 }).toBe(2);
    const [first, reconnect] = proxy.streamRequests;
    expect(first?.lastEventId).toBeNull();
    expect(reconnect?.lastEventId).toMatch(/^[0-9a-f-]{36}:\d+$/);
    expect(reconnect?.path).toBe(first?.path); // the same request, resumed: not a new question

    await waitForAnswer(page);
    await expect(answer.getByRole('alert')).toHaveCount(0);
    const shown = normalise(await shownText(answer));
    expect(shown.startsWith(beforeCut)).toBe(true);
    expect(shown).toBe(normalise(PROSE));

    const stored = await api.latestChatMessages();
    expect(stored.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    expect(stored[1]?.content).toBe(PROSE);
    await expect(userTexts(page)).toHaveText(['Will this survive a network hiccup?']);
  } finally {
    await proxy.stop();
  }
});
