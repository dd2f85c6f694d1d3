import type http from 'node:http';
import type https from 'node:https';

/*
 * One keep-alive agent per origin (scheme + host + port) for the whole process, shared by every
 * App Store Connect client. A worker runs thousands of syncs, each with its own client: with an
 * agent per client every sync paid for new TCP (and TLS) connections and threw them away.
 * Clients therefore never destroy these sockets; the process does, once, when it shuts down
 * (`closeSharedAgents()`). Per-client concurrency stays with each client's semaphore.
 */

export const sharedAgentLimits = {
  /** Sockets per origin across all clients (a worker's jobs × each client's concurrency). */
  maxSockets: 64,
  /** Idle sockets kept per origin. */
  maxFreeSockets: 64,
  /**
   * Idle sockets are closed after this, before typical server idle timeouts (and Node's agent
   * shortens it further when the server announces `Keep-Alive: timeout=…`), so a request is
   * rarely written to a socket the server is closing.
   */
  freeSocketTimeoutMs: 15_000,
} as const;

type Agent = http.Agent | https.Agent;

const agents = new Map<string, Agent>();

/** The process-wide agent for `url`'s origin, created on first use. */
export function sharedAgentFor(url: URL): Agent {
  let agent = agents.get(url.origin);
  if (!agent) {
    const options: http.AgentOptions = {
      keepAlive: true,
      maxSockets: sharedAgentLimits.maxSockets,
      maxFreeSockets: sharedAgentLimits.maxFreeSockets,
      // Node's agent destroys a free socket when this socket timeout fires; a socket in use
      // only gets a 'timeout' event, which got ignores (it enforces its own timeouts).
      timeout: sharedAgentLimits.freeSocketTimeoutMs,
      // Reuse the most recently used socket, so surplus idle ones age out.
      scheduling: 'lifo',
    };
    // Loaded here, not imported: every CLI command imports this module to close the agents at exit,
    // and one that never calls Apple (`--help`, `status`) should not load HTTP and TLS (~16 MiB).
    agent =
      url.protocol === 'https:'
        ? new (process.getBuiltinModule('node:https').Agent)(options)
        : new (process.getBuiltinModule('node:http').Agent)(options);
    agents.set(url.origin, agent);
  }
  return agent;
}

/**
 * For process shutdown: closes the idle shared sockets now and each socket still carrying a
 * request as soon as its response ends, and forgets the agents (clients used afterwards get
 * fresh ones). Requests in flight are not cut: at shutdown they belong to jobs left to
 * stalled-job recovery, and failing them would run error paths against closed resources.
 * Idle sockets do not keep Node alive (the agent unrefs them); closing them tells the server
 * at once and leaves nothing behind.
 */
export function closeSharedAgents(): void {
  for (const agent of agents.values()) {
    // Node's agent destroys a socket freed by its request when this says no.
    agent.keepSocketAlive = () => false;
    for (const sockets of Object.values(agent.freeSockets)) {
      for (const socket of sockets ?? []) socket.destroy();
    }
  }
  agents.clear();
}
