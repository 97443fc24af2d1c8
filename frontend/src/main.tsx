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
    <BrowserRouter>
      <AuthProvider>
        <App />
      </AuthProvider>
    </BrowserRouter>
  </StrictMode>,
);
