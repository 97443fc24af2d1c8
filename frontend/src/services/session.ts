// The one home of the access token: kept in localStorage with its expiry, so a reload keeps the
// user signed in but a stale token is never sent. Listeners hear when the session ends.

const STORAGE_KEY = 'chatstream.session';

interface StoredSession {
  token: string;
  expiresAt: number;
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
      return { token: parsed.token, expiresAt: parsed.expiresAt };
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

export function setAccessToken(token: string, expiresInS: number): void {
  const session: StoredSession = { token, expiresAt: Date.now() + expiresInS * 1000 };
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
