/**
 * Typed access to environment variables for the per-process config modules.
 *
 * Each process parses its environment once at start through one of these readers; any
 * problem throws a ConfigError naming the variable, so a misconfigured pod fails fast
 * with a sentence that says what to fix.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface EnvReader {
  string(name: string, fallback?: string): string;
  optionalString(name: string): string | undefined;
  int(name: string, fallback: number, range?: { min?: number; max?: number }): number;
  bool(name: string, fallback: boolean): boolean;
  url(name: string, fallback?: string): string;
  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T;
}

export function readEnv(source: NodeJS.ProcessEnv = process.env): EnvReader {
  const raw = (name: string): string | undefined => {
    const value = source[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  const string = (name: string, fallback?: string): string => {
    const value = raw(name) ?? fallback;
    if (value === undefined) throw new ConfigError(`${name} is required but not set`);
    return value;
  };

  return {
    string,
    optionalString: raw,
    int(name, fallback, range = {}) {
      const text = raw(name);
      if (text === undefined) return fallback;
      const value = Number(text);
      if (!Number.isInteger(value)) {
        throw new ConfigError(`${name} must be a whole number, got "${text}"`);
      }
      if (range.min !== undefined && value < range.min) {
        throw new ConfigError(`${name} must be at least ${range.min}, got ${value}`);
      }
      if (range.max !== undefined && value > range.max) {
        throw new ConfigError(`${name} must be at most ${range.max}, got ${value}`);
      }
      return value;
    },
    bool(name, fallback) {
      const text = raw(name)?.toLowerCase();
      if (text === undefined) return fallback;
      if (['1', 'true', 'yes', 'on'].includes(text)) return true;
      if (['0', 'false', 'no', 'off'].includes(text)) return false;
      throw new ConfigError(`${name} must be true or false, got "${text}"`);
    },
    url(name, fallback) {
      const text = string(name, fallback);
      try {
        new URL(text);
      } catch {
        throw new ConfigError(`${name} must be an absolute URL, got "${text}"`);
      }
      return text;
    },
    oneOf(name, choices, fallback) {
      const text = raw(name) ?? fallback;
      const match = choices.find((choice) => choice === text);
      if (match === undefined) {
        throw new ConfigError(`${name} must be one of ${choices.join(', ')}, got "${text}"`);
      }
      return match;
    },
  };
}
