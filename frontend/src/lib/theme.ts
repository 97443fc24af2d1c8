// Light/dark theme: follows the system unless the user picked one, remembered in localStorage.
// Applied as <html data-theme>; the CSS tokens honour prefers-color-scheme otherwise.

export type ThemePreference = 'system' | 'light' | 'dark';

const STORAGE_KEY = 'chatstream.theme';

export function getThemePreference(): ThemePreference {
  try {
    const stored = window.localStorage.getItem(STORAGE_KEY);
    if (stored === 'light' || stored === 'dark') return stored;
  } catch {
    /* storage unavailable: follow the system */
  }
  return 'system';
}

export function applyTheme(preference: ThemePreference): void {
  const root = document.documentElement;
  if (preference === 'system') delete root.dataset.theme;
  else root.dataset.theme = preference;
}

export function setThemePreference(preference: ThemePreference): void {
  try {
    if (preference === 'system') window.localStorage.removeItem(STORAGE_KEY);
    else window.localStorage.setItem(STORAGE_KEY, preference);
  } catch {
    /* storage unavailable: the choice lasts for this page only */
  }
  applyTheme(preference);
}

export function nextTheme(preference: ThemePreference): ThemePreference {
  return preference === 'system' ? 'light' : preference === 'light' ? 'dark' : 'system';
}
