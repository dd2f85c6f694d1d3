/** Types of worker-v8-flags.js (plain JavaScript, so that bin/ runs before any TypeScript). */
export declare const WORKER_V8_FLAGS: string[];
export declare function missingWorkerFlags(execArgv: readonly string[], nodeOptions?: string): string[];
