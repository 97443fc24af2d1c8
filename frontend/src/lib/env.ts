// Build-time settings, read and checked once. VITE_API_BASE lets a deployment serve the API
// under another prefix; the default matches the back end and the dev proxy.

function readApiBase(): string {
  const raw: unknown = import.meta.env.VITE_API_BASE;
  if (raw === undefined || raw === '') return '/api/v1';
  if (typeof raw !== 'string' || !raw.startsWith('/')) {
    throw new Error(
      `VITE_API_BASE must be an absolute path such as /api/v1, got ${JSON.stringify(raw)}`,
    );
  }
  return raw.replace(/\/+$/, '');
}

export const API_BASE = readApiBase();
