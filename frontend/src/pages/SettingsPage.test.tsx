import { screen, waitFor } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it } from 'vitest';

import type { OnboardingAnswers, OnboardingAnswersUpdate, User, UserUpdate } from '../api/types';
import { signIn } from '../test/helpers';
import { currentPath, renderApp } from '../test/renderApp';
import { API, makeUser, server } from '../test/server';

const QUESTIONS = {
  name: 'What should I call you?',
  role: 'What do you do, for work or study?',
  goals: 'What would you like me to help you with?',
} as const;

function answersOf(values: Record<string, string | null>): OnboardingAnswers {
  return {
    items: Object.entries(QUESTIONS).map(([key, question]) => ({
      key,
      question,
      answer: values[key] ?? null,
    })),
  };
}

/** The server side of the settings page: what it was sent, and what it stores. */
function settingsServer(stored: Record<string, string | null>) {
  const sent = { profile: [] as UserUpdate[], answers: [] as OnboardingAnswersUpdate[] };
  let user: User = makeUser({ display_name: 'Ada' });
  let answers = answersOf(stored);
  server.use(
    http.get(`${API}/users/me`, () => HttpResponse.json(user)),
    http.get(`${API}/onboarding/answers`, () => HttpResponse.json(answers)),
    http.patch(`${API}/users/me`, async ({ request }) => {
      const body = (await request.json()) as UserUpdate;
      sent.profile.push(body);
      user = { ...user, display_name: body.display_name };
      return HttpResponse.json(user);
    }),
    http.put(`${API}/onboarding/answers`, async ({ request }) => {
      const body = (await request.json()) as OnboardingAnswersUpdate;
      sent.answers.push(body);
      answers = answersOf(body.answers);
      return HttpResponse.json(answers);
    }),
  );
  return sent;
}

async function openSettings() {
  const view = renderApp('/settings');
  await screen.findByRole('heading', { name: 'Settings', level: 1 });
  const name = await screen.findByRole('textbox', { name: 'Display name' });
  return { ...view, name };
}

beforeEach(() => {
  signIn();
});

describe('SettingsPage', () => {
  it('shows the display name and each answer labelled by its question, and saves the edits', async () => {
    const sent = settingsServer({ name: 'Ada', role: 'engineer', goals: null });
    const { user, name } = await openSettings();
    expect(name).toHaveValue('Ada');
    expect(screen.getByRole('textbox', { name: QUESTIONS.name })).toHaveValue('Ada');
    expect(screen.getByRole('textbox', { name: QUESTIONS.role })).toHaveValue('engineer');
    const goals = screen.getByRole('textbox', { name: QUESTIONS.goals });
    expect(goals).toHaveValue(''); // skipped: empty, and fine to leave so

    await user.clear(name);
    await user.type(name, '  Ada   Lovelace ');
    await user.clear(screen.getByRole('textbox', { name: QUESTIONS.role }));
    await user.type(screen.getByRole('textbox', { name: QUESTIONS.role }), 'poet');
    await user.click(screen.getByRole('button', { name: 'Save changes' }));

    expect(await screen.findByText('Saved. Your next answer uses these.')).toBeInTheDocument();
    expect(sent.profile).toEqual([{ display_name: 'Ada Lovelace' }]);
    expect(sent.answers).toEqual([{ answers: { name: 'Ada', role: 'poet' } }]);
  });

  it('points at a blank name and a too long answer beside their fields, sends nothing and keeps what was typed', async () => {
    const sent = settingsServer({ name: 'Ada', role: 'engineer', goals: null });
    const { user, name } = await openSettings();
    await user.clear(name);
    await user.type(name, '   ');
    const goals = screen.getByRole('textbox', { name: QUESTIONS.goals });
    await user.click(goals);
    await user.paste('x'.repeat(501));
    await user.click(screen.getByRole('button', { name: 'Save changes' }));

    expect(name).toHaveAttribute('aria-invalid', 'true');
    expect(name).toHaveAccessibleDescription(expect.stringContaining('Enter a display name.'));
    expect(name).toHaveFocus(); // the first mistake
    expect(goals).toHaveAttribute('aria-invalid', 'true');
    expect(goals).toHaveAccessibleDescription(
      'The answer is 501 characters long; the limit is 500.',
    );
    expect(goals).toHaveValue('x'.repeat(501));
    expect(screen.getByRole('textbox', { name: QUESTIONS.role })).toHaveAttribute(
      'aria-invalid',
      'false',
    );
    expect(sent.profile).toEqual([]);
    expect(sent.answers).toEqual([]);
  });

  it('refuses to blank an answer the user had given', async () => {
    const sent = settingsServer({ name: 'Ada', role: 'engineer', goals: null });
    const { user } = await openSettings();
    const role = screen.getByRole('textbox', { name: QUESTIONS.role });
    await user.clear(role);
    await user.click(screen.getByRole('button', { name: 'Save changes' }));
    expect(role).toHaveAccessibleDescription(expect.stringContaining('cannot be blank'));
    expect(role).toHaveFocus();
    expect(sent.answers).toEqual([]);
  });

  it('says why the server refused a save, in an alert, and keeps the form', async () => {
    settingsServer({ name: 'Ada', role: 'engineer', goals: null });
    server.use(
      http.put(`${API}/onboarding/answers`, () =>
        HttpResponse.json(
          { error: { code: 'validation_error', message: 'answers.role: The answer is blank.' } },
          { status: 422 },
        ),
      ),
    );
    const { user } = await openSettings();
    const role = screen.getByRole('textbox', { name: QUESTIONS.role });
    await user.type(role, ' and poet');
    await user.click(screen.getByRole('button', { name: 'Save changes' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'answers.role: The answer is blank.',
    );
    expect(role).toHaveValue('engineer and poet');
    expect(screen.queryByText(/^Saved\./)).toBeNull();
  });

  it('is reached from the chat sidebar and leads back to the chat', async () => {
    settingsServer({ name: 'Ada', role: null, goals: null });
    const { user } = renderApp('/chat');
    await user.click(await screen.findByRole('link', { name: 'Settings' }));
    await waitFor(() => {
      expect(currentPath()).toBe('/settings');
    });
    await user.click(await screen.findByRole('link', { name: '← Back to chat' }));
    await waitFor(() => {
      expect(currentPath()).toBe('/chat');
    });
  });
});
