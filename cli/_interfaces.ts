/**
 * What the `interfaces` commands share.
 *
 * @module
 */

/** A flag parser for a non-negative integer; errors name `what`. */
export function positiveInteger(what: string): (text: string) => number {
  return (text: string) => {
    if (!/^[0-9]+$/.test(text)) {
      throw new Error(`${what} ${text}: not a number`);
    }
    return Number(text);
  };
}
