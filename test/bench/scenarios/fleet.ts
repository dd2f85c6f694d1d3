import type { Scenario } from '../lib/scenario.ts';

export const fleetScenario: Scenario = {
  id: 4,
  key: 'fleet',
  title: 'fleet (not wired yet)',
  async run() {
    throw new Error('not wired yet');
  },
};
