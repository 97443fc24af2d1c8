// The settings form's rules, the server's own (backend/app/schemas/profile.py): text is kept on
// one line, a display name holds at most 100 characters and an answer 500. Checked here first
// so a mistake is shown beside its field at once, and nothing typed is lost.

import type { OnboardingAnswer } from '../api/types';

export const DISPLAY_NAME_MAX_CHARS = 100;
export const ANSWER_MAX_CHARS = 500;

export interface ProfileValues {
  displayName: string;
  answers: Record<string, string>;
}

export interface ProfileErrors {
  displayName?: string;
  answers: Record<string, string>;
}

/** As the server stores it: control characters dropped, runs of whitespace one space. */
export function oneLine(text: string): string {
  // Code points, as the server counts and cleans them.
  const visible = Array.from(text)
    .filter((c) => /\s/.test(c) || !isControl(c))
    .join('');
  return visible.replace(/\s+/g, ' ').trim();
}

/** Unicode's Cc: U+0000-U+001F and U+007F-U+009F. */
function isControl(char: string): boolean {
  const code = char.codePointAt(0) ?? 0;
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

/** The length the server measures: code points (an emoji is one, not two). */
function length(text: string): number {
  return Array.from(text).length;
}

function tooLong(what: string, count: number, limit: number): string {
  return `The ${what} is ${count} characters long; the limit is ${limit}.`;
}

/**
 * What is wrong with each field, if anything. An answer left empty that was empty before is
 * fine (a skipped question); emptying one the user had given is a mistake to point out.
 */
export function validateProfile(
  values: ProfileValues,
  saved: readonly OnboardingAnswer[],
): ProfileErrors {
  const errors: ProfileErrors = { answers: {} };
  const name = oneLine(values.displayName);
  if (name === '') errors.displayName = 'Enter a display name.';
  else if (length(name) > DISPLAY_NAME_MAX_CHARS) {
    errors.displayName = tooLong('display name', length(name), DISPLAY_NAME_MAX_CHARS);
  }
  for (const { key, answer } of saved) {
    const text = oneLine(values.answers[key] ?? '');
    if (text === '' && answer !== null) {
      errors.answers[key] = 'An answer cannot be blank. Write one, or keep the one you had.';
    } else if (length(text) > ANSWER_MAX_CHARS) {
      errors.answers[key] = tooLong('answer', length(text), ANSWER_MAX_CHARS);
    }
  }
  return errors;
}

export function hasErrors(errors: ProfileErrors): boolean {
  return errors.displayName !== undefined || Object.keys(errors.answers).length > 0;
}

/** The answers to send: every non-empty one, cleaned as the server will clean it. */
export function answersToSave(values: ProfileValues): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [key, text] of Object.entries(values.answers)) {
    const cleaned = oneLine(text);
    if (cleaned !== '') kept[key] = cleaned;
  }
  return kept;
}
