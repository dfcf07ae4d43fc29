/** The logger every part of the mesh takes. Library code never writes to the console directly. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const levels = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof levels;

/** One JSON object per line on stderr, at `RECQ_LOG_LEVEL` (default info) and above. */
export function jsonLogger(component: string, level: LogLevel = envLevel()): Logger {
  const threshold = levels[level];
  const write = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (levels[at] < threshold) return;
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: at, component, message, ...fields })}\n`);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}

/** For tests and embedders that want quiet. */
export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

function envLevel(): LogLevel {
  const value = process.env.RECQ_LOG_LEVEL;
  return value === "debug" || value === "info" || value === "warn" || value === "error" ? value : "info";
}
