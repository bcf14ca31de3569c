// Status codes of failed API calls, whatever the client wrapped them in.
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
export const isAlreadyExists = isConflict;
