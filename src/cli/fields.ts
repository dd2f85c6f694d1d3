/*
 * The one place where the API's field names become what a person typed on the command line.
 * Errors below the CLI name fields (`every`, `since`, `projectId`); the CLI shows the flag.
 */
const FLAG_OF_FIELD: Record<string, string> = {
  projectId: '<project>',
  appStoreId: '<appStoreId>',
  keyId: '--key-id',
  issuerId: '--issuer-id',
  privateKey: '--private-key-file',
  privateKeyFile: '--private-key-file',
  fileName: '--private-key-file',
  every: '--every',
  cron: '--cron',
  schedule: '--every or --cron',
  since: '--since',
  at: '--at',
  product: '--product',
  productId: '--product',
  territory: '--territory',
  environment: '--environment',
  renewal: '--renewal',
  port: '--port',
  catalog: '--catalog',
  processes: '--processes',
  url: '<url>',
  events: '--events',
  details: '--no-details',
  scope: '--scope',
  name: '--name',
  token: '<token>',
  // webhooks and events
  eventTypes: '--events',
  replaySince: '--replay-since',
  runId: '--run',
  eventId: '--event',
  endpointId: '--endpoint',
};

export function flagOf(field: string): string {
  return FLAG_OF_FIELD[field] ?? field;
}
