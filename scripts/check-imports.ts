/**
 * The import check (`npm run lint:imports`, a step of .ci/run): dependency-cruiser validates the
 * rules of .dependency-cruiser.cjs (the layers of docs/architecture.md), and this file adds the
 * one rule dependency-cruiser cannot express here: no cycle between units (each src/<folder>,
 * each src/<file>.ts, jobs, db, bin). Its own folder-scope cycles count src/ as a folder holding
 * everything below it, which makes every folder look cyclic.
 * Exit 0 when the imports follow the rules, 1 with one line per violation otherwise.
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';

export const ROOTS = ['src', 'jobs', 'db', 'bin'];
export const FOLDER_CYCLE_RULE = 'no-folder-cycles';

export interface ImportViolation {
  rule: string;
  from: string;
  to: string;
  /** For a cycle: the units in order, the first repeated at the end. */
  cycle?: string[];
}

interface DepcruiseConfig {
  forbidden: IForbiddenRuleType[];
  options: Record<string, unknown> & { enhancedResolveOptions?: Record<string, unknown> };
}

/** The unit a module belongs to: src/<folder>, src/<file>.ts, or its top folder. */
export function unitOf(modulePath: string): string | null {
  const parts = modulePath.split('/');
  if (parts[0] === 'src') return parts.length > 2 ? `src/${parts[1]}` : modulePath;
  if (parts.length > 1 && ROOTS.includes(parts[0]!)) return parts[0]!;
  return null;
}

/** Cycles between units: one per strongly connected component of the unit graph (Tarjan). */
export function unitCycles(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of edges.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const node of [...edges.keys()].sort()) if (!index.has(node)) visit(node);
  return components.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** A shortest path of units from `start` back to itself inside one component, for the message. */
function cycleThrough(start: string, component: Set<string>, edges: Map<string, Set<string>>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const target of [...(edges.get(node) ?? [])].sort()) {
      if (!component.has(target)) continue;
      if (target === start) {
        const path = [start];
        for (let at = node; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(target)) {
        previous.set(target, node);
        queue.push(target);
      }
    }
  }
  return [start, start];
}

/** Runs dependency-cruiser with the rules of `configPath` on `roots` under `baseDir`. */
export async function checkImports(
  baseDir: string,
  { roots = ROOTS, configPath = path.join(baseDir, '.dependency-cruiser.cjs') } = {},
): Promise<ImportViolation[]> {
  const config = createRequire(import.meta.url)(configPath) as DepcruiseConfig;
  const { enhancedResolveOptions, ...options } = config.options;
  const presentRoots = roots.filter((root) => {
    try {
      return statSync(path.join(baseDir, root)).isDirectory();
    } catch {
      return false;
    }
  });
  const { output } = await cruise(
    presentRoots,
    { ...options, baseDir, validate: true, ruleSet: { forbidden: config.forbidden } },
    enhancedResolveOptions ?? {},
  );
  const result = output as ICruiseResult;
  const violations: ImportViolation[] = (result.summary.violations ?? []).map((violation) => ({
    rule: violation.rule.name,
    from: violation.from,
    to: violation.to,
  }));

  const edges = new Map<string, Set<string>>();
  for (const module of result.modules) {
    const from = unitOf(module.source);
    if (!from) continue;
    if (!edges.has(from)) edges.set(from, new Set());
    for (const dependency of module.dependencies) {
      const to = unitOf(dependency.resolved);
      if (to && to !== from) edges.get(from)!.add(to);
    }
  }
  for (const component of unitCycles(edges)) {
    const cycle = cycleThrough(component[0]!, new Set(component), edges);
    violations.push({ rule: FOLDER_CYCLE_RULE, from: cycle[0]!, to: cycle[1]!, cycle });
  }
  return violations;
}

/** One line per violation, as dependency-cruiser's own `err` reporter writes them. */
export function describeViolation(violation: ImportViolation): string {
  const what = violation.cycle ? violation.cycle.join(' → ') : `${violation.from} → ${violation.to}`;
  return `error ${violation.rule}: ${what}`;
}

if (import.meta.main) {
  const root = path.resolve(import.meta.dirname, '..');
  const violations = await checkImports(root);
  for (const violation of violations) console.error(describeViolation(violation));
  if (violations.length > 0) {
    console.error(
      `\n${violations.length} import rule violation(s): see .dependency-cruiser.cjs for each rule's reason and ` +
        'docs/architecture.md ("Layers") for what may import what.',
    );
    process.exit(1);
  }
  console.error(`imports follow the layers (${ROOTS.join(', ')} checked)`);
}
