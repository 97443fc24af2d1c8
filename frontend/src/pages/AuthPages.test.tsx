import { screen, waitFor } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';

import { getAccessToken } from '../services/session';
import { signIn } from '../test/helpers';
import { currentPath, renderApp } from '../test/renderApp';
import { API, makeUser, server } from '../test/server';

function acceptLogin(onboarded: boolean) {
  const forms: URLSearchParams[] = [];
  server.use(
    http.post(`${API}/auth/token`, async ({ request }) => {
      forms.push(new URLSearchParams(await request.text()));
      return HttpResponse.json({
        access_token: 'fresh-token',
        token_type: 'bearer',
        expires_in: 3600,
      });
    }),
    http.get(`${API}/users/me`, ({ request }) => {
      if (request.headers.get('Authorization') !== 'Bearer fresh-token') {
        return HttpResponse.json(
          { error: { code: 'unauthorized', message: 'No' } },
          { status: 401 },
        );
      }
      return HttpResponse.json(makeUser({ onboarding_completed: onboarded }));
    }),
  );
  return forms;
}

describe('LoginPage', () => {
  it('signs in with the OAuth2 form and goes to the chat of an onboarded user', async () => {
    const forms = acceptLogin(true);
    const { user } = renderApp('/login');
    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Password'), 'correct horse');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    await waitFor(() => {
      expect(currentPath()).toBe('/chat');
    });
    expect(forms[0]?.get('username')).toBe('ada@example.com');
    expect(forms[0]?.get('password')).toBe('correct horse');
    expect(getAccessToken()).toBe('fresh-token');
  });

  it('sends a user who has not finished onboarding to /onboarding', async () => {
    acceptLogin(false);
    const { user } = renderApp('/login');
    await user.type(screen.getByLabelText('Email'), 'new@example.com');
    await user.type(screen.getByLabelText('Password'), 'password1{Enter}');
    await waitFor(() => {
      expect(currentPath()).toBe('/onboarding');
    });
  });

  it('says so when the email or password is wrong, without signing out anyone', async () => {
    server.use(
      http.post(`${API}/auth/token`, () =>
        HttpResponse.json(
          { error: { code: 'invalid_credentials', message: 'Invalid credentials' } },
          { status: 401 },
        ),
      ),
    );
    const { user } = renderApp('/login');
    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Password'), 'wrong{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('Wrong email or password.');
    expect(currentPath()).toBe('/login');
  });

  it('sends visitors without a session from / to /login', async () => {
    renderApp('/');
    await waitFor(() => {
      expect(currentPath()).toBe('/login');
    });
  });

  it('sends a signed-in user from /login to where they belong', async () => {
    signIn();
    renderApp('/login');
    await waitFor(() => {
      expect(currentPath()).toBe('/chat');
    });
  });

  it('signs out from the sidebar', async () => {
    signIn();
    const { user } = renderApp('/chat');
    await user.click(await screen.findByRole('button', { name: 'Sign out' }));
    await waitFor(() => {
      expect(currentPath()).toBe('/login');
    });
    expect(getAccessToken()).toBeNull();
  });
});

describe('RegisterPage', () => {
  it('creates the account, signs in and starts onboarding', async () => {
    const bodies: unknown[] = [];
    acceptLogin(false);
    server.use(
      http.post(`${API}/auth/register`, async ({ request }) => {
        bodies.push(await request.json());
        return HttpResponse.json(makeUser({ onboarding_completed: false }), { status: 201 });
      }),
    );
    const { user } = renderApp('/register');
    await user.type(screen.getByLabelText('Email'), 'grace@example.com');
    await user.type(screen.getByLabelText('Name (optional)'), 'Grace');
    await user.type(screen.getByLabelText('Password'), 'longenough');
    await user.click(screen.getByRole('button', { name: 'Create account' }));

    await waitFor(() => {
      expect(currentPath()).toBe('/onboarding');
    });
    expect(bodies[0]).toEqual({
      email: 'grace@example.com',
      password: 'longenough',
      display_name: 'Grace',
    });
  });

  it('checks the password length before asking the server', async () => {
    const { user } = renderApp('/register');
    await user.type(screen.getByLabelText('Email'), 'grace@example.com');
    await user.type(screen.getByLabelText('Password'), 'short{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('at least 8 characters');
  });

  it('explains a taken email', async () => {
    server.use(
      http.post(`${API}/auth/register`, () =>
        HttpResponse.json(
          { error: { code: 'email_taken', message: 'Email already registered' } },
          { status: 409 },
        ),
      ),
    );
    const { user } = renderApp('/register');
    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Password'), 'longenough{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent(/already exists/);
  });
});
