// The one home of the access token: kept in localStorage with its expiry, so a reload and every
// tab share it, and a stale token is never sent. (The refresh token is an HttpOnly cookie that no
// script sees: services/tokenRefresh.ts trades it for a new access token.) Listeners hear when
// the session ends.

const STORAGE_KEY = 'chatstream.session';

interface StoredSession {
  token: string;
  expiresAt: number;
  /** A little before expiresAt: from then on the token is refreshed before it is used. */
  refreshAt: number;
}

/** How early a token is refreshed: a fifth of its lifetime, at most 30 s (clocks drift, and a
 * request takes time to arrive). */
function refreshMarginMs(lifetimeMs: number): number {
  return Math.min(30_000, lifetimeMs / 5);
}

type Listener = () => void;
const expiredListeners = new Set<Listener>();

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled (privacy mode): the session then lives in memory only
  }
}

let memorySession: StoredSession | null = null;

function read(): StoredSession | null {
  const store = storage();
  if (store === null) return memorySession;
  const raw = store.getItem(STORAGE_KEY);
  if (raw === null) return null;
  try {
    const parsed = JSON.parse(raw) as Partial<StoredSession>;
    if (typeof parsed.token === 'string' && typeof parsed.expiresAt === 'number') {
      const refreshAt = typeof parsed.refreshAt === 'number' ? parsed.refreshAt : parsed.expiresAt;
      return { token: parsed.token, expiresAt: parsed.expiresAt, refreshAt };
    }
  } catch {
    /* fall through: a corrupt entry is treated as no session */
  }
  return null;
}

export function getAccessToken(): string | null {
  const session = read();
  if (session === null) return null;
  if (session.expiresAt <= Date.now()) {
    clearAccessToken();
    return null;
  }
  return session.token;
}

/** The token if it is not yet due for a refresh (null: none, or refresh it first). */
export function getFreshAccessToken(): string | null {
  const session = read();
  if (session === null || session.refreshAt <= Date.now()) return null;
  return getAccessToken();
}

export function setAccessToken(token: string, expiresInS: number): void {
  const lifetimeMs = expiresInS * 1000;
  const expiresAt = Date.now() + lifetimeMs;
  const session: StoredSession = {
    token,
    expiresAt,
    refreshAt: expiresAt - refreshMarginMs(lifetimeMs),
  };
  const store = storage();
  if (store === null) memorySession = session;
  else store.setItem(STORAGE_KEY, JSON.stringify(session));
}

export function clearAccessToken(): void {
  memorySession = null;
  storage()?.removeItem(STORAGE_KEY);
}

/** Ends the session because the server refused the token (a 401), and tells the listeners. */
export function expireSession(): void {
  clearAccessToken();
  for (const listener of [...expiredListeners]) listener();
}

export function onSessionExpired(listener: Listener): () => void {
  expiredListeners.add(listener);
  return () => expiredListeners.delete(listener);
}
