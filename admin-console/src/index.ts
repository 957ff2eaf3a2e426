export { adminConsole, CONSOLE_CSP, type AdminConsoleOptions } from './admin-console.js';
