// Entry point: theme, router, auth, app.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';

import { App } from './App';
import { AuthProvider } from './hooks/useAuth';
import { applyTheme, getThemePreference } from './lib/theme';
import './styles/tokens.css';
import './styles/global.css';

applyTheme(getThemePreference());

const root = document.getElementById('root');
if (root === null) throw new Error('index.html has no #root element');

createRoot(root).render(
  <StrictMode>
    {/* Navigations render as any other update, not as transitions: the chat page renders the
        new conversation's address in the same commit as the answer's start (ChatPage). */}
    <BrowserRouter useTransitions={false}>
      <AuthProvider>
        <App />
      </AuthProvider>
    </BrowserRouter>
  </StrictMode>,
);
