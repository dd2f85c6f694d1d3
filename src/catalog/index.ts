export * from './diff.ts';
export * from './digest.ts';
export * from './model.ts';
export * from './rules.ts';
