// Types for bin/build-stamp.js (plain JavaScript: see its header), for scripts and tests in TypeScript.

/** Whether `root`/dist was built, successfully, from the sources as they are now. */
export function isBuildCurrent(root: string): boolean;
/** Called before compiling: removes the stamp and starts the pending one. */
export function beginBuild(root: string): void;
/** Called after a successful compile: the pending stamp becomes the stamp. */
export function finishBuild(root: string): void;
