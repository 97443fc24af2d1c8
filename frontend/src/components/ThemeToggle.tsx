// Cycles the theme: system → light → dark.

import { useState } from 'react';
import type { ReactNode } from 'react';

import { getThemePreference, nextTheme, setThemePreference } from '../lib/theme';
import type { ThemePreference } from '../lib/theme';

import { MoonIcon, SunIcon, SystemThemeIcon } from './Icons';
import styles from './ThemeToggle.module.css';

const LABELS: Record<ThemePreference, string> = {
  system: 'System theme',
  light: 'Light theme',
  dark: 'Dark theme',
};
const ICONS: Record<ThemePreference, ReactNode> = {
  system: <SystemThemeIcon />,
  light: <SunIcon />,
  dark: <MoonIcon />,
};

export function ThemeToggle() {
  const [theme, setTheme] = useState<ThemePreference>(getThemePreference);
  const next = nextTheme(theme);
  // The name says what a press does; the title (on hover) what is in use now.
  return (
    <button
      type="button"
      className={styles.toggle}
      onClick={() => {
        setThemePreference(next);
        setTheme(next);
      }}
      aria-label={`Switch to ${LABELS[next].toLowerCase()}`}
      title={`${LABELS[theme]} (click for ${LABELS[next].toLowerCase()})`}
    >
      {ICONS[theme]}
    </button>
  );
}
