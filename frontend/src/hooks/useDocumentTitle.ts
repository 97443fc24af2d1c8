// The browser tab's title follows the page: "<title> · ChatStream", or "ChatStream" alone.

import { useEffect } from 'react';

export const APP_NAME = 'ChatStream';

export function documentTitle(title: string | null): string {
  return title ? `${title} · ${APP_NAME}` : APP_NAME;
}

export function useDocumentTitle(title: string | null): void {
  useEffect(() => {
    document.title = documentTitle(title);
  }, [title]);
  useEffect(
    () => () => {
      document.title = APP_NAME;
    },
    [],
  );
}
