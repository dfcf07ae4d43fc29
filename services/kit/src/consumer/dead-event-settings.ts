/**
 * How a consumer retries an event its handler throws on, before the gateway parks it in the dead-event queue
 * (docs/components.md, "Dead-event queue").
 */
export interface DeadEventSettings {
  /** Tries in place, the first included. Default 5. */
  attempts: number;
  /** Wait after the first failure; doubled (with jitter) after each next one. Default 100 ms. */
  initialBackoffMs: number;
  /** The longest wait between two tries. Default 5 s. */
  maxBackoffMs: number;
}

export const DEFAULT_DEAD_EVENT_SETTINGS: DeadEventSettings = { attempts: 5, initialBackoffMs: 100, maxBackoffMs: 5_000 };

/** The settings with their defaults, checked: a bad value throws at configuration, not at the first failure. */
export function deadEventSettings(given: Partial<DeadEventSettings> | undefined): DeadEventSettings {
  const settings = { ...DEFAULT_DEAD_EVENT_SETTINGS, ...given };
  if (!Number.isSafeInteger(settings.attempts) || settings.attempts < 1) {
    throw new Error(`deadEvents.attempts must be an integer of at least 1, got ${settings.attempts}`);
  }
  for (const key of ["initialBackoffMs", "maxBackoffMs"] as const) {
    if (!Number.isSafeInteger(settings[key]) || settings[key] < 0) throw new Error(`deadEvents.${key} must be an integer of at least 0, got ${settings[key]}`);
  }
  if (settings.maxBackoffMs < settings.initialBackoffMs) {
    throw new Error(`deadEvents.maxBackoffMs (${settings.maxBackoffMs}) must not be below deadEvents.initialBackoffMs (${settings.initialBackoffMs})`);
  }
  return settings;
}
