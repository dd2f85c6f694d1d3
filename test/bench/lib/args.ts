/** Command-line options of `npm run bench`. */
export interface BenchArgs {
  /** A reduced run (fewer shapes, projects and repetitions) that finishes in under a minute. */
  quick: boolean;
  /** Scenario numbers to run; empty = all. */
  only: number[];
  /** Folder for the JSON results. */
  outDir: string;
  /** Write a CPU profile of the fleet worker (scenario 4) into outDir. */
  cpuProf: boolean;
}

export const USAGE = `Usage: npm run bench [-- --quick] [-- --only N[,M]] [-- --out DIR] [-- --cpu-prof]
  --quick      reduced sizes and repetitions (under a minute)
  --only N     run only scenario N (1 requests, 2 latency, 3 database, 4 fleet, 5 scheduler, 6 details, 7 cli, 8 console, 9 api, 10 attribution, 11 details-freshness, 12 details-budget); repeatable
  --out DIR    where results JSON goes (default bench-results)
  --cpu-prof   write a V8 CPU profile of the fleet worker into the results folder`;

export function parseArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = { quick: false, only: [], outDir: 'bench-results', cpuProf: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value.\n${USAGE}`);
      return v;
    };
    switch (name) {
      case '--quick':
        args.quick = true;
        break;
      case '--only':
        for (const part of value().split(',')) {
          const n = Number(part);
          if (!Number.isInteger(n) || n < 1 || n > 12)
            throw new Error(`--only takes 1 to 12, not "${part}".\n${USAGE}`);
          args.only.push(n);
        }
        break;
      case '--out':
        args.outDir = value();
        break;
      case '--cpu-prof':
        args.cpuProf = true;
        break;
      case '--help':
      case '-h':
        throw new Error(USAGE);
      default:
        throw new Error(`Unknown option "${arg}".\n${USAGE}`);
    }
  }
  return args;
}
