// Status codes of failed API calls, whatever the client wrapped them in. A watch ERROR event's
// Status object carries its code the same way, so it can be passed here directly.
function statusCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
  for (const candidate of [e.code, e.statusCode, e.response?.statusCode]) {
    if (typeof candidate === 'number') return candidate;
  }
  return undefined;
}

export const isNotFound = (error: unknown) => statusCode(error) === 404;
export const isConflict = (error: unknown) => statusCode(error) === 409;
// A create that finds the name taken answers 409 too; the name says which case a caller handles.
export const isAlreadyExists = (error: unknown) => statusCode(error) === 409;

/** The requested resourceVersion has been compacted away: the caller must list again. */
export function isGone(error: unknown): boolean {
  if (statusCode(error) === 410) return true;
  // Matched by message too, for wrappers that keep the Status text but drop its code.
  const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === 'string' && message.includes('too old resource version');
}
