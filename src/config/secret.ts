/**
 * A secret value (PIN, passphrase) that cannot leak through logs or errors by accident:
 * JSON, string conversion and util.inspect all print `[redacted]`. Only `reveal()` gives the value.
 */
import { inspect } from 'node:util';

export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return '[redacted]';
  }
  toString(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}
