// ChatSession's versions of the latest exchange: regenerate, edit & resend, and flipping the
// version shown (docs/api.md, "Versions").

import { describe, expect, it, vi } from 'vitest';

import type { ChatTurn } from '../api/types';
import type { AnswerAnnouncement, AnswerChannel } from '../services/answerChannel';
import { manualFrames } from '../test/frames';
import { ScriptedTransport } from '../test/ScriptedTransport';
import { makeMessage } from '../test/server';

import { ChatSession } from './ChatSession';
import type { ChatSessionOptions } from './ChatSession';
import { versionPosition } from './messages';

function setup(options: Partial<ChatSessionOptions> = {}) {
  const frames = manualFrames();
  const streaming = new ScriptedTransport(true);
  const session = new ChatSession({
    isOnboarding: false,
    conversationId: 'conv-1',
    transport: streaming,
    fallback: new ScriptedTransport(false),
    ...options,
  });
  const question = makeMessage({ id: 'q1', role: 'user', content: 'Why?', version_ids: ['q1'] });
  const answer = makeMessage({ id: 'a1', content: 'Because.', version_ids: ['a1'] });
  session.showLatestPage({ items: [question, answer], has_more: false });
  const state = () => session.getSnapshot();
  return { session, streaming, frames, state };
}

describe('ChatSession: regenerate', () => {
  it('asks for another answer to the last question, and the new one joins the versions', () => {
    const { session, streaming, frames, state } = setup();
    expect(session.regenerateLastAnswer()).toBe(true);

    const turn = streaming.latest();
    expect(turn.request).toMatchObject({
      text: 'Why?',
      version: { kind: 'regenerate', answerId: 'a1' },
      regenerate: false,
    });
    expect(state().messages.map((m) => m.content)).toEqual(['Why?', '']);
    turn.start({ userMessageId: 'q1' });
    turn.text('Since.');
    frames.flush();
    turn.complete();

    const regenerated = state().messages[1];
    expect(regenerated).toMatchObject({ content: 'Since.', status: 'complete' });
    expect(regenerated?.versionIds).toEqual(['a1', regenerated?.serverId]);
    expect(regenerated && versionPosition(regenerated)).toEqual({ index: 2, count: 2 });
  });

  it('puts the exchange back, with the reason, when the server makes no new version', () => {
    const { session, streaming, state } = setup();
    const before = state().messages;
    session.regenerateLastAnswer();
    streaming.latest().fail({ code: 'answer_in_progress', message: 'Wait.', refused: true });
    expect(state().messages).toEqual(before);
    expect(state().sendError?.code).toBe('answer_in_progress');
    expect(state().status).toBe('idle');
  });

  it('is refused while an answer is on its way, and where answers come whole', () => {
    const { session } = setup();
    session.send('Another');
    expect(session.regenerateLastAnswer()).toBe(false);
    const whole = setup({ transport: new ScriptedTransport(false) });
    expect(whole.session.regenerateLastAnswer()).toBe(false);
  });
});

describe('ChatSession: edit & resend', () => {
  it('sends the new text as a version of the last question, with a new answer', () => {
    const { session, streaming, state } = setup();
    expect(session.editLastMessage('Why not?')).toBe(true);

    const turn = streaming.latest();
    expect(turn.request).toMatchObject({
      text: 'Why not?',
      version: { kind: 'edit', messageId: 'q1' },
    });
    expect(state().messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Why not?'],
      ['assistant', ''],
    ]);
    turn.start({ userMessageId: 'q2' });
    expect(state().messages[0]?.versionIds).toEqual(['q1', 'q2']);
  });

  it('refuses a blank or unchanged text', () => {
    const { session, streaming } = setup();
    expect(session.editLastMessage('   ')).toBe(false);
    expect(session.editLastMessage('Why?')).toBe(false);
    expect(streaming.turns).toHaveLength(0);
  });
});

describe('ChatSession: choosing a version', () => {
  it("replaces the exchange with the server's, as it now reads", async () => {
    const exchange: ChatTurn = {
      conversation_id: 'conv-1',
      user_message: makeMessage({
        id: 'q0',
        role: 'user',
        content: 'How?',
        version_ids: ['q0', 'q1'],
      }),
      assistant_message: makeMessage({ id: 'a0', content: 'Thus.', version_ids: ['a0'] }),
      onboarding: null,
    };
    const chooseVersion = vi.fn(() => Promise.resolve(exchange));
    const { session, state } = setup({ chooseVersion });
    const key = state().messages[1]?.id ?? '';

    expect(await session.showVersion(key, 'q0')).toBe(true);
    expect(chooseVersion).toHaveBeenCalledWith('q0');
    expect(state().messages.map((m) => [m.serverId, m.content])).toEqual([
      ['q0', 'How?'],
      ['a0', 'Thus.'],
    ]);
  });

  it('keeps what is shown, and says why, when the server refuses', async () => {
    const chooseVersion = vi.fn(() => Promise.reject(new Error('offline')));
    const { session, state } = setup({ chooseVersion });
    const before = state().messages;
    expect(await session.showVersion(before[0]?.id ?? '', 'q0')).toBe(false);
    expect(state().messages).toBe(before);
    expect(state().sendError).not.toBeNull();
  });
});

describe('ChatSession: versions in other tabs', () => {
  function channel() {
    const listeners = new Set<(event: AnswerAnnouncement) => void>();
    const announced: AnswerAnnouncement[] = [];
    const value: AnswerChannel = {
      announce: (event) => {
        announced.push(event);
      },
      listen: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const hear = (event: AnswerAnnouncement) => {
      for (const listener of listeners) listener(event);
    };
    return { value, announced, hear };
  }

  it('says which question an edit replaces, and a tab hearing it shows the new one instead', () => {
    const here = channel();
    const { session, streaming } = setup({ channel: here.value });
    session.editLastMessage('Why not?');
    streaming.latest().start({ conversationId: 'conv-1', userMessageId: 'q2' });
    expect(here.announced[0]).toMatchObject({ type: 'answer-started', replaces: 'q1' });

    const there = channel();
    const other = setup({ channel: there.value });
    other.session.watchOtherTabs();
    const started = here.announced[0];
    if (started?.type !== 'answer-started') throw new Error('no start announced');
    there.hear(started);
    expect(other.state().messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Why not?'],
      ['assistant', ''],
    ]);
  });
});
