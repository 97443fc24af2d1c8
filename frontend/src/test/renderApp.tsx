// Renders the whole app at a path, as the browser would after a navigation.

import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { StrictMode } from 'react';
import { MemoryRouter, useLocation } from 'react-router';

import { App } from '../App';
import { AuthProvider } from '../hooks/useAuth';

function LocationProbe() {
  const location = useLocation();
  return <output data-testid="location">{location.pathname}</output>;
}

export function renderApp(path: string) {
  const user = userEvent.setup();
  // StrictMode and navigations that are not transitions, as in main.tsx: effects run twice on mount, which the hooks must survive.
  const view = render(
    <StrictMode>
      <MemoryRouter initialEntries={[path]} useTransitions={false}>
        <AuthProvider>
          <App />
          <LocationProbe />
        </AuthProvider>
      </MemoryRouter>
    </StrictMode>,
  );
  return { user, ...view };
}

export function currentPath(): string {
  return screen.getByTestId('location').textContent;
}
