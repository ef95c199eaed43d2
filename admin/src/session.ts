// The org API key lives in sessionStorage only: gone when the tab closes, never put in a URL
// (the one exception is the events WebSocket, see events.ts).

const KEY = 'dialgate.apiKey';

export function getKey(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function clearKey(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    /* storage unavailable: nothing to clear */
  }
}
