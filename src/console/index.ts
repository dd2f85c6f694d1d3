export {
  type ActionResult,
  type ConsoleActions,
  createConsoleActions,
  type ScheduleForm,
} from './actions.ts';
export { type ConsoleOptions, type ConsoleServer, createConsole, EVENTS_QUEUE_NAME } from './app.ts';
export { type ConsoleAccess, createAuth, isSameOrigin, type Role } from './auth.ts';
