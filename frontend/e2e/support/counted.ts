// The counted answer (servers.ts, COUNTED_WORDS) as a page shows it and as the server stored
// it: a word missing or doubled anywhere is plain to see.

import { expect } from '@playwright/test';
import type { Page } from '@playwright/test';

import type { Message } from '../../src/api/types';

import type { ApiClient } from './api';
import { COUNTED_WORDS } from './servers';
import { lastAssistant, normalise, shownText } from './ui';

export interface Sample {
  text: string;
  status: string;
}

/**
 * Samples the last answer's text on every animation frame until it is no longer streaming.
 * Started right after a navigation, it sees the answer from the first frame that shows it.
 * `untilStarted`: for an answer not being written yet (a Continue about to be pressed), it
 * samples on until the answer has been written and has ended.
 */
export function sampleUntilDone(
  page: Page,
  options: { untilStarted?: boolean } = {},
): Promise<Sample[]> {
  return page.evaluate(
    (untilStarted) =>
      new Promise<Sample[]>((resolve) => {
        const samples: Sample[] = [];
        let started = !untilStarted;
        const tick = () => {
          const answers = document.querySelectorAll<HTMLElement>(
            '[data-testid="message"][data-role="assistant"]',
          );
          const last = answers[answers.length - 1];
          if (last !== undefined) {
            const body = last.querySelector<HTMLElement>('[data-testid="message-text"]');
            samples.push({ text: body?.innerText ?? '', status: last.dataset.status ?? '' });
            if (last.dataset.status === 'streaming') started = true;
            else if (started) {
              resolve(samples);
              return;
            }
          }
          requestAnimationFrame(tick);
        };
        tick();
      }),
    options.untilStarted ?? false,
  );
}

/** Whether `shown` is the answer's first words, whole: none missing, none doubled. */
export function isStartOf(shown: string, answer = COUNTED_WORDS): boolean {
  return shown === '' || shown === answer || answer.startsWith(`${shown} `);
}

/** Every frame showed the start of the answer, and the text never shrank. */
export function expectGrowingStarts(samples: Sample[]): void {
  const shown = samples.map((sample) => normalise(sample.text));
  expect(shown.filter((text) => !isStartOf(text))).toEqual([]);
  const lengths = shown.map((text) => text.length);
  expect(lengths).toEqual([...lengths].sort((a, b) => a - b));
}

/** How many words of the counted answer a page shows. */
export async function wordsShown(page: Page): Promise<number> {
  const text = normalise(await shownText(lastAssistant(page)));
  return text === '' ? 0 : text.split(' ').length;
}

/** The newest answer of the user's newest chat, as stored. */
export async function storedAnswer(api: ApiClient): Promise<Message> {
  const stored = await api.latestChatMessages();
  const answer = stored.at(-1);
  if (answer?.role !== 'assistant') throw new Error('the newest message is not an answer');
  return answer;
}
