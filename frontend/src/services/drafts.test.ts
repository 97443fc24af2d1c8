import { describe, expect, it } from 'vitest';

import {
  clearDrafts,
  loadDraft,
  MAX_DRAFT_CHARS,
  MAX_DRAFTS_PER_USER,
  NEW_CONVERSATION,
  saveDraft,
} from './drafts';

describe('drafts', () => {
  it('keeps one draft per user and conversation, and one for a new chat', () => {
    saveDraft('user-1', 'conv-1', 'About conv 1');
    saveDraft('user-1', NEW_CONVERSATION, 'A new question');
    saveDraft('user-2', 'conv-1', 'Someone else');

    expect(loadDraft('user-1', 'conv-1')).toBe('About conv 1');
    expect(loadDraft('user-1', NEW_CONVERSATION)).toBe('A new question');
    expect(loadDraft('user-1', 'conv-2')).toBe('');
    // Another account on the same browser never sees the first one's drafts.
    expect(loadDraft('user-2', 'conv-1')).toBe('Someone else');
    expect(loadDraft('user-2', NEW_CONVERSATION)).toBe('');
  });

  it('forgets a draft saved empty (the message was sent)', () => {
    saveDraft('user-1', 'conv-1', 'Soon sent');
    saveDraft('user-1', 'conv-1', '');
    expect(loadDraft('user-1', 'conv-1')).toBe('');
    expect(window.localStorage).toHaveLength(0);
  });

  it('is bounded: a long draft keeps its beginning, and the oldest drafts go first', () => {
    saveDraft('user-1', 'long', 'x'.repeat(MAX_DRAFT_CHARS + 500), 0);
    expect(loadDraft('user-1', 'long')).toHaveLength(MAX_DRAFT_CHARS);

    for (let i = 0; i <= MAX_DRAFTS_PER_USER; i += 1) saveDraft('user-1', `c-${i}`, `d${i}`, i + 1);
    expect(loadDraft('user-1', 'long')).toBe(''); // the oldest, saved at time 0
    expect(loadDraft('user-1', 'c-0')).toBe('');
    expect(loadDraft('user-1', 'c-1')).toBe('d1');
    expect(loadDraft('user-1', `c-${MAX_DRAFTS_PER_USER}`)).toBe(`d${MAX_DRAFTS_PER_USER}`);
  });

  it("clears one user's drafts on sign-out, leaving the others'", () => {
    saveDraft('user-1', 'conv-1', 'mine');
    saveDraft('user-1', NEW_CONVERSATION, 'mine too');
    saveDraft('user-2', 'conv-1', 'theirs');
    window.localStorage.setItem('chatstream.session', '{}');
    clearDrafts('user-1');
    expect(loadDraft('user-1', 'conv-1')).toBe('');
    expect(loadDraft('user-1', NEW_CONVERSATION)).toBe('');
    expect(loadDraft('user-2', 'conv-1')).toBe('theirs');
    expect(window.localStorage.getItem('chatstream.session')).toBe('{}');
  });

  it('reads a corrupt entry as no draft', () => {
    window.localStorage.setItem('chatstream.draft:user-1:conv-1', '{not json');
    expect(loadDraft('user-1', 'conv-1')).toBe('');
  });
});
