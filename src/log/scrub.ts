/* The scrubber of free text, apart from the logger so that modules that only make messages
 * (src/errors.ts, and through it the queue contract) do not load pino. */

const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)/g;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
// A compact JWS/JWE: base64url header starting with `{"` (eyJ) and two or more dots.
const JWT_LIKE = /eyJ[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*){2,4}/g;

// A URL's password (`postgres://user:password@host`, `redis://:password@host`): a connection
// string quoted by a driver or pasted into a message. The user stays; the password goes.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@]+@/gi;

/** Replaces PEM blocks, bearer tokens, JWT-shaped strings and URL passwords in free text. */
export function scrubSecrets(text: string): string {
  return text
    .replace(URL_PASSWORD, '$1[REDACTED]@')
    .replace(PEM_BLOCK, '[REDACTED PEM]')
    .replace(BEARER, '$1[REDACTED]')
    .replace(JWT_LIKE, '[REDACTED JWT]');
}
