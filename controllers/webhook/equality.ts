import { isDeepStrictEqual } from 'node:util';

/** Structural equality of JSON values, as the API server would compare them. */
export const isDeepEqual = (a: unknown, b: unknown): boolean => isDeepStrictEqual(a, b);
